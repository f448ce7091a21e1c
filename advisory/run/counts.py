"""What a run did, as one value that adds itself up across shards and runs."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Final

__all__ = ["MAX_ERROR_LINES", "Counts"]

MAX_ERROR_LINES: Final = 20


@dataclass(slots=True)
class Counts:
    due: int = 0  # messages planned to go in this run
    delivered: int = 0
    retrying: int = 0  # failed for now; queued for a later attempt
    failed: int = 0  # failed for good: refused, or out of retries
    left: int = 0  # not attempted: the run was stopped; still queued
    already_sent: int = 0
    elsewhere: int = 0  # due, but another process sharing the state holds it to send
    waiting: int = 0  # queued, next attempt later
    failed_before: int = 0  # failed for good in an earlier run
    suppressed: int = 0  # readers on the suppression list: sent nothing
    minor: int = 0  # readers not alerted of a minor update (they hold an earlier version)
    readers: int = 0  # subscribers in the run's scope
    planned: int = 0  # of those, how many have been planned so far
    unchanged: int = 0  # runs not planned: their inputs were as when one found nothing due
    errors: list[str] = field(default_factory=list)  # one line per failure, the first few

    def __add__(self, other: Counts) -> Counts:
        total = Counts(**{f.name: getattr(self, f.name) + getattr(other, f.name)
                          for f in fields(self) if f.name != "errors"})  # fmt: skip
        total.errors = (self.errors + other.errors)[:MAX_ERROR_LINES]
        return total

    @property
    def attempted(self) -> int:
        return self.delivered + self.retrying + self.failed

    @property
    def ok(self) -> bool:
        """Nothing attempted in this run is left undelivered."""
        return self.retrying == 0 and self.failed == 0 and self.left == 0

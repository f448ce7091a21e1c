"""What a run did, as one value that adds itself up across shards and runs."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Final

__all__ = ["MAX_ERROR_LINES", "PER_ADVISORY", "Counts"]

MAX_ERROR_LINES: Final = 20
# What a plan finds of each (reader, advisory): counted per advisory's country too.
PER_ADVISORY: Final = ("already_sent", "waiting", "failed_before", "minor")


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
    carried: int = 0  # readers not planned again: nothing of theirs changed since then
    errors: list[str] = field(default_factory=list)  # one line per failure, the first few
    # PER_ADVISORY by the advisory's country ("*": a digest): where a run plans only the
    # readers of a few countries, what the others were found to be stands for them.
    by_country: dict[str, dict[str, int]] = field(default_factory=dict)

    def __add__(self, other: Counts) -> Counts:
        summed = [f.name for f in fields(self) if isinstance(getattr(self, f.name), int)]
        total = Counts(**{name: getattr(self, name) + getattr(other, name) for name in summed})
        total.errors = (self.errors + other.errors)[:MAX_ERROR_LINES]
        total.by_country = {c: dict(t) for c, t in self.by_country.items()}
        for country, found in other.by_country.items():
            mine = total.by_country.setdefault(country, {})
            for name, n in found.items():
                mine[name] = mine.get(name, 0) + n
        return total

    def tally(self, name: str, country: str, n: int = 1) -> None:
        """`n` more of one of PER_ADVISORY, of an advisory of `country`."""
        setattr(self, name, getattr(self, name) + n)
        found = self.by_country.setdefault(country, {})
        found[name] = found.get(name, 0) + n

    @property
    def attempted(self) -> int:
        return self.delivered + self.retrying + self.failed

    @property
    def ok(self) -> bool:
        """Nothing attempted in this run is left undelivered."""
        return self.retrying == 0 and self.failed == 0 and self.left == 0

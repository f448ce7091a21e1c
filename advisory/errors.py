"""The exception tree: every failure the service reports is one of these.

The CLI turns an `AdvisoryError` into one line per problem and an exit code;
anything else escaping is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "AdvisoryError",
    "ConfigError",
    "DeliveryError",
    "FetchError",
    "PermanentDeliveryError",
    "Problem",
    "SourceError",
    "StateBusy",
    "StateError",
    "StorageError",
    "TemplateError",
    "TemporaryDeliveryError",
    "UnreadableError",
    "UsageError",
]


class Problem(str):
    """One line of a report: `FILE: field.path: reason`."""

    __slots__ = ()

    @classmethod
    def at(cls, file: object, field: str, reason: str) -> Problem:
        return cls(f"{file}: {field}: {reason}" if field else f"{file}: {reason}")


class AdvisoryError(Exception):
    """Base of everything the service reports to a user instead of crashing."""

    exit_code = 1

    def __init__(self, problems: str | Iterable[str]) -> None:
        self.problems: tuple[str, ...] = (
            (problems,) if isinstance(problems, str) else tuple(problems)
        )
        super().__init__("\n".join(self.problems))


class UsageError(AdvisoryError):
    """A command-line mistake (an option's value, a file to write): nothing was done."""

    exit_code = 2


class ConfigError(AdvisoryError):
    """Invalid config, advisory or subscriber file: nothing was sent."""

    exit_code = 2


class TemplateError(AdvisoryError):
    """A template does not compile or does not render: found at start-up."""

    exit_code = 2


class StateError(AdvisoryError):
    """The state file cannot be opened or is not ours."""

    exit_code = 2


class StorageError(StateError):
    """The disk failed under the state file mid-run (full, I/O error): sending stopped."""

    exit_code = 1


class ListDamaged(StorageError):
    """The list kept from an earlier reading cannot be read (damaged on disk): it is
    deleted, and the next run reads the list's files again."""


class StateContended(StorageError):
    """Another process wrote the same rows at once, and the server undid this write (a
    deadlock it broke): the same write may be tried again."""


class StateBusy(StateError):
    """Another process holds the state for a run."""


class SourceError(AdvisoryError):
    """A publisher's document could not be had this time: one line against that source,
    while the other sources, and the delivery of what is known, go on."""


class FetchError(SourceError):
    """Refused, timed out, an HTTP error, a body too large: what was known of it stands."""


class UnreadableError(SourceError):
    """A document came, but not in the shape its publisher uses."""


class DeliveryError(AdvisoryError):
    """A message was not accepted; `recipient` and the server's `code` when known."""

    def __init__(
        self, reason: str, *, recipient: str = "", code: int | None = None, at_rcpt: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.recipient = recipient
        self.code = code
        self.at_rcpt = at_rcpt  # the server refused the recipient itself, at RCPT TO


class TemporaryDeliveryError(DeliveryError):
    """Worth retrying later: 4xx, refused or dropped connection, timeout, TLS trouble."""


class PermanentDeliveryError(DeliveryError):
    """Retrying cannot help: the server said 5xx for this message."""

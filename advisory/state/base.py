"""The state store's interface, as every engine provides it: the outbox and the
publishers' cache, and the run lock that lets one run at a time plan from them.

The outbox is the source of truth of what was sent: a message goes in as `queued`
before its first attempt and becomes `sent` only after the server accepted it, and
every attempt is logged. The publishers' cache holds what was fetched from them, so
an unchanged document costs a 304 and a publisher's noise never reaches a reader.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass
from typing import Literal, Protocol, Self

from advisory.domain.models import Advisory
from advisory.domain.text import outside

__all__ = [
    "Acknowledgements",
    "Attempt",
    "Document",
    "Entry",
    "Outbox",
    "Outcome",
    "PublisherCache",
    "PublisherState",
    "Quiet",
    "Reason",
    "Status",
    "Store",
    "Suppression",
    "Suppressions",
    "Told",
    "Traveller",
]

Status = Literal["queued", "sent", "failed", "cancelled"]
# What a message is: an alert or a digest to a reader, a reminder to a traveller to
# acknowledge one, or the duty desk's summary or escalation of one advisory version.
Kind = Literal["alert", "digest", "reminder", "summary", "escalation"]
# How an acknowledgement was made: the reader's button, or the desk's phone call.
How = Literal["web", "phone"]
Duty = Literal["summary", "reminder", "escalation"]
Reason = Literal["unsubscribed", "bounced", "complained", "operator"]
Outcome = Literal["sent", "temporary", "permanent"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One message in the outbox."""

    key: str  # a hash of (recipient, version or period, format): the same message, once
    kind: Kind
    recipient: str  # the lower-cased address: one identity per person
    advisory: str  # the advisory's key ("VE", "VE@us-state"); "*" for a digest
    version: str  # the advisory version, or the digest's period
    format: str
    status: Status
    created_at: float  # also the message's Date header
    attempts: int = 0
    next_attempt: float | None = None
    last_error: str | None = None
    sent_at: float | None = None
    resends: int = 0


@dataclass(frozen=True, slots=True)
class Attempt:
    """One delivery attempt's outcome, as `Outbox.record_many` writes it."""

    key: str
    outcome: Outcome
    at: float
    error: str | None = None
    retry_at: float | None = None  # a temporary failure's next attempt; None: give up

    @property
    def note(self) -> str | None:
        """The reason as it is kept: any server's text, made safe to store and to print."""
        return None if self.error is None else outside(self.error)

    @property
    def status(self) -> Status:
        if self.outcome == "sent":
            return "sent"
        return "queued" if self.retry_at is not None else "failed"


@dataclass(frozen=True, slots=True)
class Document:
    """What a publisher said of a document last time: validators, and what was read."""

    etag: str | None = None
    last_modified: str | None = None
    memo: str | None = None


@dataclass(frozen=True, slots=True)
class PublisherState:
    """What `advisory sources` tells of a publisher: its last fetch, change and error."""

    last_fetch: float | None = None
    last_change: float | None = None
    changed: str | None = None
    last_error: str | None = None
    error_at: float | None = None


class Outbox(Protocol):
    """Every message queued, attempted, sent, failed or cancelled, and the advisory
    versions they told of."""

    def entries(self, *, status: Status, kinds: Collection[Kind] = ()) -> list[Entry]:
        """Every entry with `status` (of these `kinds`, if any), in the order they were
        queued (such are few)."""

    def entries_for(self, keys: Sequence[str]) -> dict[str, Entry]:
        """The entries with these keys, if any."""

    def last_sent_to(
        self, recipients: Iterable[str], keys: Iterable[str]
    ) -> dict[tuple[str, str], tuple[str, str]]:
        """(recipient, advisory key) -> (version, message key) of the alert about it the
        recipient received last, or of the digest that carried it (`carry`), in the
        order the outbox recorded the deliveries (never by a clock, which may go back).
        A message once delivered counts as received even while a forced resend of it is
        pending or has failed."""

    def advisory(self, version: str) -> Advisory | None:
        """An advisory version as it was queued, to say what changed since."""

    def minor_since(self, key: str, version: str) -> bool:
        """Whether every version of advisory `key` kept after `version` is a minor update
        (true if none is): what a reader who holds `version` has missed is words only."""

    def counts(self) -> dict[str, int]:
        """Status -> how many messages have it."""

    def remember(self, advisory: Advisory, now: float) -> None:
        """Keep an advisory version that is queued or current (once), in the order seen."""

    def enqueue(self, entries: Iterable[Entry]) -> None:
        """New entries as queued; an existing one (a --force resend, a briefing renewed
        for a new version) is queued again, telling the version it now has."""

    def carry(self, key: str, recipient: str, advisories: Iterable[Advisory]) -> None:
        """The versions digest `key` tells its recipient (instead of any it was said to
        carry before): theirs once it is delivered."""

    def cancel(self, keys: Iterable[str], reason: str) -> None:
        """Queued entries no longer due: cancelled with the reason."""

    def record_many(self, attempts: Sequence[Attempt]) -> None:
        """Log attempts and their outcomes in one durable transaction."""

    def claim(self, keys: Sequence[str], lease: float) -> list[str]:
        """Which of these queued messages this process may send: those no other process
        holds (or held, but has not renewed for a whole lease), held now for `lease`
        seconds. Where one run at a time holds the state, all of them."""

    def renew(self, lease: float) -> None:
        """This process still works on what it holds: held `lease` seconds more."""

    def unclaim(self) -> None:
        """What this process still holds is for any process to take."""

    def facts(self) -> tuple[str, float | None]:
        """What a plan reads of the state that changes without its other inputs changing
        (the messages queued and the last one queued, the suppressions), and when the
        first queued message falls due."""

    def written_since(self, last: int | None) -> set[tuple[Kind, str]]:
        """The kind and advisory key of every message queued after the `last` one (as
        `facts` names it): what a run wrote, or whether another wrote too."""

    def quiet(self, purpose: str) -> Quiet | None:
        """The last plan of `purpose` that found nothing due, if one is kept."""

    def keep_quiet(self, purpose: str, quiet: Quiet) -> None:
        """Keep it, in place of the one before."""


@dataclass(frozen=True, slots=True)
class Quiet:
    """A plan that found nothing due: the fingerprint of its inputs, when it was made,
    until when it holds (a retry or a trip's window may fall due then), and its counts."""

    inputs: str
    made_at: float
    until: float | None
    counts: str  # JSON


@dataclass(frozen=True, slots=True)
class Suppression:
    """An address that receives nothing: why, since when, and what was said."""

    address: str
    reason: Reason
    since: float
    detail: str = ""


class Suppressions(Protocol):
    """The addresses that receive nothing, whatever the config says. Written outside any
    run (a reader's click, an operator's command): never behind the run lock."""

    def suppress(self, address: str, reason: Reason, now: float, detail: str = "") -> bool:
        """Suppress `address` (durably, at once); False if it already was."""

    def unsuppress(self, address: str) -> bool:
        """Lift it (durably, at once); False if it was not suppressed."""

    def among(self, addresses: Collection[str]) -> set[str]:
        """Which of these (lower-cased) addresses are suppressed."""

    def listed(self) -> list[Suppression]:
        """Every suppression, oldest first."""

    def by_reason(self) -> dict[str, int]:
        """Reason -> how many addresses are suppressed for it."""

    def register(self, tokens: Iterable[tuple[str, str]]) -> None:
        """(token, address) of the readers whose messages carry an unsubscribe link."""

    def address_of(self, token: str) -> str | None:
        """The address a token was registered for, if any."""


@dataclass(frozen=True, slots=True)
class Told:
    """An alert to a traveller whose trip to its country was open: what the desk hears of."""

    key: str  # the alert's message key
    recipient: str  # lower-cased
    email: str  # as the list writes it
    name: str
    advisory: str  # the advisory's key
    version: str
    country: str
    start: str  # the trip's days, ISO 8601
    end: str
    token: str | None = None  # its acknowledgement token, where the alert asks for one


@dataclass(frozen=True, slots=True)
class Traveller:
    """A traveller's alert and where it stands: delivered, acknowledged, told of."""

    told: Told
    status: Status
    queued_at: float
    sent_at: float | None
    error: str | None  # the server's last reply, if it refused or failed
    acked_at: float | None
    how: How | None
    summary: str | None  # the keys of the messages that told of it
    reminder: str | None
    escalation: str | None
    latest: bool  # no later alert of the same advisory was told this traveller
    format: str = "html"  # the alert's

    @property
    def asked(self) -> bool:
        return self.told.token is not None


class Acknowledgements(Protocol):
    """Travellers' alerts, their acknowledgements, and what the desk was told of them.
    Acknowledgements are written outside any run (a reader's click, a desk's call)."""

    def told(self, rows: Iterable[Told]) -> None:
        """Alerts to travellers, as they are queued; one queued again for a newer
        version asks afresh."""

    def asked(self, token: str) -> Traveller | None:
        """The alert an acknowledgement token was given in, if any."""

    def acknowledge(self, told: Told, at: float, how: How, detail: str = "") -> bool:
        """Its reader has read that version (durably, at once); False if they had said so."""

    def open(self) -> list[Traveller]:
        """Alerts the desk is still to hear of, or still to be acknowledged, reminded or
        escalated (cancelled ones never are)."""

    def told_in(self, key: str) -> list[Traveller]:
        """The alerts a summary, reminder or escalation `key` tells of."""

    def unreported(self, version: str | None = None) -> list[Traveller]:
        """The acknowledgements of `version` (of any, if None) no desk message has told yet."""

    def reported_in(self, key: str) -> list[Traveller]:
        """The acknowledgements desk message `key` tells."""

    def mark(
        self, key: str, duty: Duty, told: Iterable[str], acks: Iterable[Traveller] = ()
    ) -> None:
        """Message `key` (queued in the same transaction) tells of these alerts and
        acknowledgements."""

    def travellers(self, *, country: str | None = None) -> list[Traveller]:
        """Each traveller's latest alert per advisory that asked for an acknowledgement."""


class PublisherCache(Protocol):
    """What was fetched from the official publishers, and each one's current view."""

    def followed(self) -> list[Advisory]:
        """Each publisher's effective advisory per country: its last version that was news."""

    def current_prints(self) -> dict[str, tuple[str, int]]:
        """Advisory key -> fingerprint and level of its current version, without reading it."""

    def follow(self, advisory: Advisory, fingerprint: str, now: float) -> None:
        """News: this version becomes the publisher's current advisory for its country."""

    def sightings(self, key: str) -> dict[str, float]:
        """Fingerprint -> when it was last fetched, for every version of advisory `key`."""

    def sighting(self, key: str, fingerprint: str) -> Advisory | None:
        """A version seen in the last window, as it was fetched."""

    def sighted(
        self, key: str, fingerprint: str, now: float, advisory: Advisory | None = None
    ) -> None:
        """A version of advisory `key` is published as of `now` (fetched, or a 304 for it)."""

    def forget_sightings(self, before: float) -> None:
        """Versions not seen since `before` no longer hold back news."""

    def document(self, url: str) -> Document:
        """What was kept of a document last time (empty if nothing)."""

    def keep_document(self, url: str, document: Document) -> None: ...

    def states(self) -> dict[str, PublisherState]:
        """Publisher kind -> its last fetch, change and error."""

    def fetched(
        self,
        kind: str,
        now: float,
        *,
        answered: bool,
        changed: Sequence[str],
        errors: Sequence[str],
    ) -> None:
        """One round of a publisher: its last fetch if it answered, its last change if
        there was news, its last error if anything failed."""


class Store(Protocol):
    """One open state: the outbox, the publishers' cache, and one run at a time."""

    @property
    def outbox(self) -> Outbox: ...

    @property
    def publishers(self) -> PublisherCache: ...

    @property
    def suppressions(self) -> Suppressions: ...

    @property
    def acks(self) -> Acknowledgements: ...

    @property
    def where(self) -> str:
        """How messages name the state: its file, or its database."""

    @property
    def shared(self) -> bool:
        """Whether other processes may run on this state at the same time."""

    def transaction(self) -> AbstractContextManager[None]:
        """All writes within it, or none: durable once it ends."""

    def writing(self) -> AbstractAsyncContextManager[None]:
        """A transaction begun from an event loop, which goes on while it waits for its
        turn to write; the transactions begun within it are part of it."""

    def acquire(self, *, wait: bool = False) -> None:
        """Hold the state for a run; `StateBusy` if another run holds it (unless `wait`)."""

    def release(self) -> None: ...

    def lead(self, job: str) -> AbstractContextManager[bool]:
        """Whether this process does `job` (fetch, digest, duty) now: where several
        share the state, one at a time, the others skipping it; else always."""

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...

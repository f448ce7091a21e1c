"""What is due: per reader, the alerts on new and changed advisories, the briefing of
a trip whose window opened, the digests of a period, the retries whose time has come,
and what is queued but no longer wanted.

Pure of any I/O but the outbox it reads; planned chunk by chunk, so a million readers
never sit in memory at once.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Sized
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Final, Literal, cast

from advisory.domain.changes import Change, what_changed
from advisory.domain.matching import by_country, concerning
from advisory.domain.models import Advisory, Frequency, Level, Subscriber, Trip
from advisory.domain.retry import CAP
from advisory.domain.schedule import digest_period
from advisory.domain.trips import Travel
from advisory.inputs.subscribers import Shard
from advisory.mail.compose import message_key
from advisory.run.counts import Counts
from advisory.state.base import Entry, Kind, Outbox

if TYPE_CHECKING:
    from advisory.inputs.config import Schedule
    from advisory.run.duty import Note

__all__ = [
    "CHUNK",
    "DIGESTS",
    "Job",
    "Plan",
    "Purpose",
    "plan",
    "plan_digest",
    "plan_for",
    "plan_run",
]

CHUNK: Final = 1000  # subscribers planned, queued and handed to the workers at a time

# The digests, each with a schedule of its own: `digest`, the reminder of what stands
# for every reader; `daily` and `weekly`, all the news of their readers' period.
Digest = Literal["digest", "daily", "weekly"]
DIGESTS: Final[tuple[Digest, ...]] = ("digest", "daily", "weekly")


@dataclass(frozen=True, slots=True)
class Purpose:
    """What a run is for: a `send` (its --country and --force), a `retry`, or the
    service's `check` or one of its digests (`digest` names which). `periods`: each
    digest's current period, set when the run begins (every shard of a run plans in
    the same ones)."""

    job: Literal["send", "retry", "check", "digest", "escalate"] = "send"
    countries: tuple[str, ...] | None = None
    force: bool = False
    digest: Digest = "digest"
    periods: dict[Digest, str | None] | None = None

    def at(self, schedule: Schedule, timezone: str, now: float) -> Purpose:
        """This purpose in the digest periods current at `now`."""
        crons = {name: getattr(schedule, name) for name in DIGESTS}
        return replace(
            self, periods={name: digest_period(cron, timezone, now) for name, cron in crons.items()}
        )

    def period(self, digest: Digest) -> str | None:
        """The current period of a digest, None if it has no schedule."""
        return (self.periods or {}).get(digest)

    @property
    def fetches(self) -> bool:
        """Whether the publishers followed are fetched first (a retry delivers what is queued)."""
        return self.job in ("send", "check")


@dataclass(frozen=True, slots=True)
class Job:
    """One message to attempt now: an alert (one advisory and what changed) or a digest."""

    subscriber: Subscriber
    entry: Entry
    new: bool  # not in the outbox yet, or queued again (--force, or due again after cancelling)
    advisories: tuple[Advisory, ...]
    change: Change | None = None  # None for a digest
    trips: tuple[Trip | None, ...] = ()  # the trip each advisory concerns, if any
    briefing: bool = False  # the first message of a trip's window
    renewed: bool = False  # queued before, queued again to tell a newer version
    changes: tuple[Change | None, ...] = ()  # a digest of news: what changed in each
    note: Note | None = None  # a reminder or a desk message: what it tells (`duty`)

    @property
    def carries(self) -> tuple[Advisory, ...]:
        """The versions the reader holds once this is delivered (a digest of news)."""
        return self.advisories if self.changes else ()


@dataclass(slots=True)
class Plan:
    """What is due, planned chunk by chunk: a million readers never sit in memory at once.

    `counts` (already sent, waiting, failed before, readers planned) and `stale` are
    complete once `chunks` has been consumed.
    """

    chunks: Iterator[list[Job]] = field(default_factory=lambda: iter(()))
    counts: Counts = field(default_factory=Counts)
    stale: list[str] = field(default_factory=list)  # queued, but no longer due

    def file(
        self,
        entry: Entry | None,
        fresh: Entry,
        job: Callable[[Entry, bool], Job],
        *,
        now: float,
        force: bool = False,
    ) -> Job | None:
        """Count one due message by what the outbox knows of it: the job, if it goes now.

        A message not yet delivered whose advisory changed since it was queued (a trip's
        briefing, keyed by the trip) is queued again, to tell what is current.
        """
        renewed = entry is not None and entry.status != "sent" and entry.version != fresh.version
        if entry is None or force or renewed or entry.status == "cancelled":
            resends = 0 if entry is None else entry.resends + 1
            made = job(fresh if resends == fresh.resends else replace(fresh, resends=resends), True)
            # (a queued one renewed is still a retry; a failed one renewed is new)
            retried = renewed and entry is not None and entry.status == "queued"
            return replace(made, renewed=True) if retried else made
        country = fresh.advisory.partition("@")[0]  # ("*": a digest)
        if entry.status == "sent":
            self.counts.tally("already_sent", country)
        elif entry.status == "failed":
            self.counts.tally("failed_before", country)
        elif (
            entry.attempts
            and entry.next_attempt is not None
            and now < entry.next_attempt <= now + CAP
        ):
            # (a retry further off was set before the clock went back; one never tried is
            # due: another process sharing the state may have queued it a moment later)
            self.counts.tally("waiting", country)
        else:
            return job(entry, False)
        return None


# Which of these readers' addresses are on the suppression list.
Suppressed = Callable[[Collection[str]], set[str]]
# What a reader holds of an advisory: its version, and the message that brought it.
_Held = tuple[str, str]
# A message that is due: its fresh outbox entry, and how to make its job from an entry.
_Due = tuple[Entry, Callable[[Entry, bool], Job]]


def plan(
    roster: Iterable[Subscriber],
    advisories: Iterable[Advisory],
    outbox: Outbox,
    now: float,
    *,
    travel: Travel | None = None,
    countries: Collection[str] | None = None,
    force: bool = False,
    shard: Shard | None = None,
    suppressed: Suppressed | None = None,
) -> Plan:
    """Alerts due now: new versions, the briefings of trips, retries whose time has
    come, and what to cancel. Readers of a digest get no alert, but a trip's briefing,
    and a raise to level 4 of a country they travel to."""
    travel = travel or Travel()
    scope = by_country(a for a in advisories if countries is None or a.country in countries)
    keys = [a.key for group in scope.values() for a in group]
    alerts: tuple[Kind, ...] = ("alert",)
    waiting = outbox.entries(status="queued", kinds=alerts)
    queued = {
        e.key
        for e in waiting
        if (countries is None or e.advisory.partition("@")[0] in countries)
        and (shard is None or e.recipient in shard)
    }
    # Who has an alert of an advisory still to come: a minor update after it is told.
    pending = {(e.recipient, e.advisory) for e in waiting}
    minor: Counter[str] = Counter()  # by country: held back from readers, in this chunk
    held_back = _holding(outbox)
    before: dict[str, Advisory | None] = {}
    compare = _changes()

    def due(batch: list[Subscriber]) -> list[_Due]:
        trips = {sub.key: open_now for sub in batch
                 if sub.trips and (open_now := travel.open_trips(sub, now))}  # fmt: skip
        pairs = [(sub, advisory) for sub in batch for advisory in
                 concerning(sub, scope, trips.get(sub.key, ()) if trips else ())]  # fmt: skip
        last = outbox.last_sent_to({sub.key for sub, _ in pairs}, keys)
        previous = [last.get((sub.key, advisory.key)) for sub, advisory in pairs]
        usual_keys = [message_key(sub.key, a.version, sub.format.value) for sub, a in pairs]
        trip_of: list[Trip | None] = [None] * len(pairs)  # the trip open now to its country
        briefings: list[str | None] = [None] * len(pairs)
        if trips:
            trip_of = [trips[sub.key].get(a.country) if sub.key in trips else None
                       for sub, a in pairs]  # fmt: skip
            briefings = [_briefing_key(sub, a, trip)
                         for (sub, a), trip in zip(pairs, trip_of, strict=True)]  # fmt: skip
        briefed = {k for k, e in outbox.entries_for([b for b in briefings if b]).items()
                   if e.sent_at is not None}  # fmt: skip
        # A version a reader had before the one they hold now: the advisory went back to
        # it. Told again, as a message of its own keyed by the message it follows: each
        # return is told once, however often the advisory goes back and forth.
        changed = [k for k, p, (_, a) in zip(usual_keys, previous, pairs, strict=True)
                   if p is not None and p[0] != a.version]  # fmt: skip
        had = {k for k, e in outbox.entries_for(changed).items() if e.sent_at is not None}
        # The reader holds this version from another message (a briefing, a digest, a
        # return): that message is the one due, if it was in the format they read now.
        by = outbox.entries_for([p[1] for k, p, (_, a) in zip(usual_keys, previous, pairs,
                                 strict=True) if p is not None and p[0] == a.version
                                 and p[1] != k])  # fmt: skip
        out: list[_Due] = []
        for (sub, advisory), held, key, trip, briefing in zip(
            pairs, previous, usual_keys, trip_of, briefings, strict=True
        ):
            was, last_message = held or ("", "")
            if was and was not in before:
                before[was] = outbox.advisory(was)
            change = compare(before.get(was), advisory)
            # Due until delivered; sent again as itself by --force.
            briefs = briefing is not None and (
                briefing not in briefed or (force and last_message == briefing)
            )
            holds = False  # counted as already sent, whatever the reader's frequency
            if briefing is not None and briefs:
                key = briefing  # once per trip, whatever the reader had before
            elif (
                was == advisory.version
                and (brought := by.get(last_message)) is not None
                and brought.format == sub.format.value
                and not (force and brought.kind != "alert")  # --force resends no digest
            ):
                key, holds = last_message, True
            elif key in had:
                topic = f"{advisory.version} after {last_message}"
                key = message_key(sub.key, topic, sub.format.value)
            if (not force and not (briefs or holds) and (sub.key, advisory.key) not in pending
                    and held_back(advisory, was, change)):  # fmt: skip
                minor[advisory.country] += 1
                continue  # they hold an earlier version: the next real change tells it
            if (
                sub.frequency is not Frequency.IMMEDIATE
                and not (briefs or holds)
                and not (trip is not None and _raised_to_four(before.get(was), advisory))
            ):
                continue  # the news waits for the reader's digest
            fresh = Entry(key, "alert", sub.key, advisory.key, advisory.version,
                          sub.format.value, "queued", now, next_attempt=now)  # fmt: skip
            out.append((fresh, partial(_alert_job, sub, advisory, change, trip, briefs)))
        return out

    made = _streamed(roster, outbox, queued, due, now=now, force=force, suppressed=suppressed)
    planned = made.chunks

    def counted() -> Iterator[list[Job]]:
        for chunk in planned:
            for country, n in minor.items():
                made.counts.tally("minor", country, n)
            minor.clear()
            yield chunk

    made.chunks = counted()
    return made


def _holding(outbox: Outbox) -> Callable[[Advisory, str, Change], bool]:
    """Whether a minor update is held back from a reader who holds version `held`: where
    only its words changed since (a level, a risk or a region is news, whatever the file
    says), and every version after theirs was minor (a real change is never skipped)."""
    known: dict[tuple[str, str], bool] = {}

    def held_back(advisory: Advisory, held: str, change: Change) -> bool:
        if not (advisory.minor and held and held != advisory.version and change.text_only):
            return False
        if (advisory.key, held) not in known:
            known[advisory.key, held] = outbox.minor_since(advisory.key, held)
        return known[advisory.key, held]

    return held_back


def _changes() -> Callable[[Advisory | None, Advisory], Change]:
    """`what_changed`, once per pair of versions: most readers hold the same one, and
    comparing two texts sentence by sentence is the costliest step of a plan."""
    made: dict[tuple[str, str], Change] = {}

    def changed(held: Advisory | None, advisory: Advisory) -> Change:
        pair = (held.version if held is not None else "", advisory.version)
        if (change := made.get(pair)) is None:
            change = made[pair] = what_changed(held, advisory)
        return change

    return changed


def _briefing_key(sub: Subscriber, advisory: Advisory, trip: Trip | None) -> str | None:
    if trip is None:
        return None
    return message_key(sub.key, f"trip:{advisory.key}:{trip.start}:{trip.end}", sub.format.value)


def _raised_to_four(held: Advisory | None, advisory: Advisory) -> bool:
    """Whether this version raises the advice to do-not-travel, somewhere in the country."""
    return (
        held is not None
        and held.highest < Level.DO_NOT_TRAVEL
        and advisory.highest == Level.DO_NOT_TRAVEL
    )


def plan_digest(
    roster: Iterable[Subscriber],
    advisories: Iterable[Advisory],
    outbox: Outbox,
    now: float,
    period: str,
    shard: Shard | None = None,
    *,
    digest: Digest = "digest",
    travel: Travel | None = None,
    suppressed: Suppressed | None = None,
) -> Plan:
    """One digest per reader per period: for `digest`, every reader is reminded of
    every advisory standing for them; for `daily` and `weekly`, their readers are told
    every version they do not hold yet, and what changed since the one they did."""
    travel = travel or Travel()
    topic = f"{digest}:{period}"
    scope = by_country(advisories)
    keys = [a.key for group in scope.values() for a in group]
    queued = {
        e.key
        for e in outbox.entries(status="queued")
        if e.kind == "digest"
        and e.version.startswith(f"{digest}:")
        and (shard is None or e.recipient in shard)
    }
    before: dict[str, Advisory | None] = {}
    held_back = _holding(outbox)
    compare = _changes()

    def news(
        sub: Subscriber, standing: tuple[Advisory, ...], held: dict[tuple[str, str], _Held]
    ) -> tuple[tuple[Advisory, ...], tuple[Change | None, ...]]:
        fresh, changes = [], []
        for advisory in standing:
            was = held.get((sub.key, advisory.key), ("", ""))[0]
            if was == advisory.version:
                continue
            if was and was not in before:
                before[was] = outbox.advisory(was)
            change = compare(before.get(was), advisory)
            if held_back(advisory, was, change):
                continue  # a minor update is no news in a digest either
            fresh.append(advisory)
            changes.append(change)
        return tuple(fresh), tuple(changes)

    def due(batch: list[Subscriber]) -> list[_Due]:
        if digest != "digest":
            batch = [sub for sub in batch if sub.frequency.value == digest]
        trips = {sub.key: travel.open_trips(sub, now) for sub in batch if sub.trips}
        standing = {sub.key: tuple(concerning(sub, scope, trips.get(sub.key, {})))
                    for sub in batch}  # fmt: skip
        held = {} if digest == "digest" else outbox.last_sent_to(
            {sub.key for sub in batch if standing[sub.key]}, keys)  # fmt: skip
        out: list[_Due] = []
        for sub in batch:
            told, changes = standing[sub.key], cast(tuple[Change | None, ...], ())
            if digest != "digest":
                told, changes = news(sub, told, held)
            if told:
                key = message_key(sub.key, topic, sub.format.value)
                fresh = Entry(key, "digest", sub.key, "*", topic, sub.format.value, "queued",
                              now, next_attempt=now)  # fmt: skip
                on = tuple(trips.get(sub.key, {}).get(a.country) for a in told)
                out.append((fresh, partial(_digest_job, sub, told, changes, on)))
        return out

    return _streamed(roster, outbox, queued, due, now=now, suppressed=suppressed)


def _streamed(
    roster: Iterable[Subscriber],
    outbox: Outbox,
    queued: set[str],
    due: Callable[[list[Subscriber]], list[_Due]],
    *,
    now: float,
    force: bool = False,
    suppressed: Suppressed | None = None,
) -> Plan:
    """A plan over the roster, CHUNK at a time: what `due` wants, filed by what the
    outbox knows; what was `queued` and is no longer wanted ends up `stale`. The
    `suppressed` readers get nothing (and what was queued for them is cancelled)."""
    out = Plan()
    out.counts.readers = len(roster) if isinstance(roster, Sized) else 0

    def chunks() -> Iterator[list[Job]]:
        for batch in _batched(roster, CHUNK):
            out.counts.planned += len(batch)
            if suppressed is not None and (quiet := suppressed([s.key for s in batch])):
                out.counts.suppressed += sum(s.key in quiet for s in batch)
                batch = [s for s in batch if s.key not in quiet]
            wanted = due(batch)
            known = outbox.entries_for([fresh.key for fresh, _ in wanted])
            jobs = []
            for fresh, job in wanted:
                queued.discard(fresh.key)
                filed = out.file(known.get(fresh.key), fresh, job, now=now, force=force)
                if filed is not None:
                    jobs.append(filed)
            yield jobs
        out.stale = sorted(queued)

    out.chunks = chunks()
    return out


def plan_run(
    roster: Iterable[Subscriber],
    advisories: Iterable[Advisory],
    outbox: Outbox,
    now: float,
    *,
    periods: dict[Digest, str | None] | None = None,
    travel: Travel | None = None,
    countries: Collection[str] | None = None,
    force: bool = False,
    retries_only: bool = False,
    shard: Shard | None = None,
    suppressed: Suppressed | None = None,
) -> Plan:
    """What a `send`, `retry` or scheduled check does: due alerts and due retries.

    Digests are only started by their own jobs; here their retries in each current
    period (`periods`) are delivered too (a pass over the subscribers only for a
    digest of which some are queued).
    """
    advisories = list(advisories)
    alerts = plan(roster, advisories, outbox, now, travel=travel, countries=countries,
                  force=force, shard=shard, suppressed=suppressed)  # fmt: skip
    queued = {e.version.partition(":")[0] for e in outbox.entries(status="queued")
              if e.kind == "digest"}  # fmt: skip
    digests = [
        plan_digest(
            roster,
            advisories,
            outbox,
            now,
            period,
            shard,
            digest=name,
            travel=travel,
            suppressed=suppressed,
        )
        for name, period in (periods or {}).items()
        if period is not None and countries is None and name in queued
    ]
    out = Plan(counts=alerts.counts)  # the same counts: readers planned, as they are

    def chunks() -> Iterator[list[Job]]:
        for chunk in alerts.chunks:
            yield [job for job in chunk if not (retries_only and job.new and not job.renewed)]
        for digest in digests:
            for chunk in digest.chunks:
                yield [job for job in chunk if not job.new]
            if waiting := digest.counts.waiting:
                out.counts.tally("waiting", "*", waiting)
            out.stale += digest.stale
        out.stale += alerts.stale

    out.chunks = chunks()
    return out


def _batched(items: Iterable[Subscriber], size: int) -> Iterator[list[Subscriber]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _alert_job(
    sub: Subscriber,
    advisory: Advisory,
    change: Change,
    trip: Trip | None,
    briefing: bool,
    entry: Entry,
    new: bool,
) -> Job:
    return Job(sub, entry, new, (advisory,), change, (trip,), briefing)


def _digest_job(
    sub: Subscriber,
    told: tuple[Advisory, ...],
    changes: tuple[Change | None, ...],
    trips: tuple[Trip | None, ...],
    entry: Entry,
    new: bool,
) -> Job:
    return Job(sub, entry, new, told, None, trips, changes=changes)


def plan_for(
    purpose: Purpose,
    roster: Iterable[Subscriber],
    advisories: Iterable[Advisory],
    outbox: Outbox,
    now: float,
    shard: Shard | None = None,
    travel: Travel | None = None,
    suppressed: Suppressed | None = None,
) -> Plan:
    """The plan of a run for `purpose`."""
    if purpose.job == "digest":
        period = purpose.period(purpose.digest) or "never"
        return plan_digest(roster, advisories, outbox, now, period, shard,
                           digest=purpose.digest, travel=travel, suppressed=suppressed)  # fmt: skip
    return plan_run(
        roster, advisories, outbox, now, periods=purpose.periods, travel=travel,
        countries=purpose.countries, force=purpose.force, retries_only=purpose.job == "retry",
        shard=shard, suppressed=suppressed,
    )  # fmt: skip

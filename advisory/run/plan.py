"""What is due: per reader, the alerts on new and changed advisories, the digest of a
period, the retries whose time has come, and what is queued but no longer wanted.

Pure of any I/O but the outbox it reads; planned chunk by chunk, so a million readers
never sit in memory at once.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Iterable, Iterator, Sized
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Final, Literal

from advisory.domain.changes import Change, what_changed
from advisory.domain.matching import by_country, concerning
from advisory.domain.models import Advisory, Subscriber
from advisory.domain.retry import CAP
from advisory.domain.schedule import digest_period
from advisory.inputs.subscribers import Shard
from advisory.mail.compose import message_key
from advisory.run.counts import Counts
from advisory.state.base import Entry, Outbox

__all__ = ["CHUNK", "Job", "Plan", "Purpose", "plan", "plan_digest", "plan_for", "plan_run"]

CHUNK: Final = 1000  # subscribers planned, queued and handed to the workers at a time


@dataclass(frozen=True, slots=True)
class Purpose:
    """What a run is for: a `send` (its --country and --force), a `retry`, or the
    service's `check` or `digest`. `period`: the digest period the run is in, set when
    it begins (every shard of a run plans in the same one)."""

    job: Literal["send", "retry", "check", "digest"] = "send"
    countries: tuple[str, ...] | None = None
    force: bool = False
    period: str | None = None

    def at(self, cron: str | None, timezone: str, now: float) -> Purpose:
        """This purpose in the digest period current at `now` (`schedule.digest`)."""
        return replace(self, period=digest_period(cron, timezone, now))

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
        """Count one due message by what the outbox knows of it: the job, if it goes now."""
        if entry is None or force or entry.status == "cancelled":
            resends = 0 if entry is None else entry.resends + 1
            return job(replace(fresh, resends=resends), True)
        if entry.status == "sent":
            self.counts.already_sent += 1
        elif entry.status == "failed":
            self.counts.failed_before += 1
        elif entry.next_attempt is not None and now < entry.next_attempt <= now + CAP:
            self.counts.waiting += 1  # (a retry further off was set before the clock went back)
        else:
            return job(entry, False)
        return None


# A message that is due: its fresh outbox entry, and how to make its job from an entry.
_Due = tuple[Entry, Callable[[Entry, bool], Job]]


def plan(
    roster: Iterable[Subscriber],
    advisories: Iterable[Advisory],
    outbox: Outbox,
    now: float,
    *,
    countries: Collection[str] | None = None,
    force: bool = False,
    shard: Shard | None = None,
) -> Plan:
    """Alerts due now: new versions, retries whose time has come, and what to cancel."""
    scope = by_country(a for a in advisories if countries is None or a.country in countries)
    keys = [a.key for group in scope.values() for a in group]
    queued = {
        e.key
        for e in outbox.entries(status="queued")
        if e.kind == "alert"
        and (countries is None or e.advisory.partition("@")[0] in countries)
        and (shard is None or e.recipient in shard)
    }
    before: dict[str, Advisory | None] = {}

    def due(batch: list[Subscriber]) -> list[_Due]:
        pairs = [(sub, advisory) for sub in batch for advisory in concerning(sub, scope)]
        last = outbox.last_sent_to({sub.key for sub, _ in pairs}, keys)
        previous = [last.get((sub.key, advisory.key)) for sub, advisory in pairs]
        usual_keys = [message_key(sub.key, a.version, sub.format.value) for sub, a in pairs]
        # A version a reader had before the one they hold now: the advisory went back to
        # it. Told again, as a message of its own keyed by the message it follows: each
        # return is told once, however often the advisory goes back and forth.
        changed = [k for k, p, (_, a) in zip(usual_keys, previous, pairs, strict=True)
                   if p is not None and p[0] != a.version]  # fmt: skip
        had = {k for k, e in outbox.entries_for(changed).items() if e.sent_at is not None}
        out: list[_Due] = []
        for (sub, advisory), held, key in zip(pairs, previous, usual_keys, strict=True):
            was, last_message = held or ("", "")
            if was and was not in before:
                before[was] = outbox.advisory(was)
            change = what_changed(before.get(was), advisory)
            if key in had:
                topic = f"{advisory.version} after {last_message}"
                key = message_key(sub.key, topic, sub.format.value)
            fresh = Entry(key, "alert", sub.key, advisory.key, advisory.version,
                          sub.format.value, "queued", now, next_attempt=now)  # fmt: skip
            out.append((fresh, partial(_alert_job, sub, advisory, change)))
        return out

    return _streamed(roster, outbox, queued, due, now=now, force=force)


def plan_digest(
    roster: Iterable[Subscriber],
    advisories: Iterable[Advisory],
    outbox: Outbox,
    now: float,
    period: str,
    shard: Shard | None = None,
) -> Plan:
    """One reminder per subscriber per digest period, of every advisory standing for them."""
    topic = f"digest:{period}"
    scope = by_country(advisories)
    queued = {
        e.key
        for e in outbox.entries(status="queued")
        if e.kind == "digest" and (shard is None or e.recipient in shard)
    }

    def due(batch: list[Subscriber]) -> list[_Due]:
        out: list[_Due] = []
        for sub in batch:
            if standing := tuple(concerning(sub, scope)):
                key = message_key(sub.key, topic, sub.format.value)
                fresh = Entry(key, "digest", sub.key, "*", topic, sub.format.value, "queued",
                              now, next_attempt=now)  # fmt: skip
                out.append((fresh, partial(_digest_job, sub, standing)))
        return out

    return _streamed(roster, outbox, queued, due, now=now)


def _streamed(
    roster: Iterable[Subscriber],
    outbox: Outbox,
    queued: set[str],
    due: Callable[[list[Subscriber]], list[_Due]],
    *,
    now: float,
    force: bool = False,
) -> Plan:
    """A plan over the roster, CHUNK at a time: what `due` wants, filed by what the
    outbox knows; what was `queued` and is no longer wanted ends up `stale`."""
    out = Plan()
    out.counts.readers = len(roster) if isinstance(roster, Sized) else 0

    def chunks() -> Iterator[list[Job]]:
        for batch in _batched(roster, CHUNK):
            out.counts.planned += len(batch)
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
    period: str | None = None,
    countries: Collection[str] | None = None,
    force: bool = False,
    retries_only: bool = False,
    shard: Shard | None = None,
) -> Plan:
    """What a `send`, `retry` or scheduled check does: due alerts and due retries.

    Digests are only started by the digest job; here their retries for the current
    `period` are delivered too (a pass over the subscribers only when some are queued).
    """
    advisories = list(advisories)
    alerts = plan(roster, advisories, outbox, now, countries=countries, force=force, shard=shard)
    digests = None
    queued = outbox.entries(status="queued")
    if period is not None and countries is None and any(e.kind == "digest" for e in queued):
        digests = plan_digest(roster, advisories, outbox, now, period, shard)
    out = Plan(counts=alerts.counts)  # the same counts: readers planned, as they are

    def chunks() -> Iterator[list[Job]]:
        for chunk in alerts.chunks:
            yield [job for job in chunk if not (retries_only and job.new)]
        if digests is not None:
            for chunk in digests.chunks:
                yield [job for job in chunk if not job.new]
            out.counts.waiting += digests.counts.waiting
            out.stale += digests.stale
        out.stale += alerts.stale

    out.chunks = chunks()
    return out


def _batched(items: Iterable[Subscriber], size: int) -> Iterator[list[Subscriber]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _alert_job(sub: Subscriber, advisory: Advisory, change: Change, entry: Entry, new: bool) -> Job:
    return Job(sub, entry, new, (advisory,), change)


def _digest_job(sub: Subscriber, standing: tuple[Advisory, ...], entry: Entry, new: bool) -> Job:
    return Job(sub, entry, new, standing)


def plan_for(
    purpose: Purpose,
    roster: Iterable[Subscriber],
    advisories: Iterable[Advisory],
    outbox: Outbox,
    now: float,
    shard: Shard | None = None,
) -> Plan:
    """The plan of a run for `purpose`."""
    if purpose.job == "digest":
        return plan_digest(roster, advisories, outbox, now, purpose.period or "never", shard)
    return plan_run(
        roster, advisories, outbox, now, period=purpose.period, countries=purpose.countries,
        force=purpose.force, retries_only=purpose.job == "retry", shard=shard,
    )  # fmt: skip

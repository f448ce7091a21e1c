"""One run: advisories -> match -> ledger (queued) -> render -> deliver -> ledger (sent/failed).

The edges (config, store, transport, clock, randomness) are passed in, so the same
run serves `send`, `retry` and the scheduler, and tests drive it with real parts.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Callable, Collection, Hashable, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from typing import Final

from advisory.domain.changes import Change, what_changed
from advisory.domain.matching import by_country, concerning
from advisory.domain.models import Advisory, Letterhead, Subscriber
from advisory.domain.retry import CAP, next_attempt
from advisory.errors import DeliveryError, LedgerError, PermanentDeliveryError
from advisory.inputs.config import Config
from advisory.inputs.subscribers import Shard
from advisory.mail.compose import Envelope, Reader, compose, message_key
from advisory.mail.rendering import Rendered, Renderer
from advisory.mail.splice import Splicer
from advisory.mail.transports import Transport
from advisory.state import Store
from advisory.state.base import Attempt, Entry, Outcome

__all__ = ["Job", "Plan", "Report", "deliver", "letterhead", "plan", "plan_digest", "plan_run"]

MAX_ERROR_LINES: Final = 20
CHUNK: Final = 1000  # subscribers planned, queued and handed to the workers at a time
FLUSH_EVERY: Final = 0.05  # seconds an outcome may wait before it is written
FLUSH_BATCH: Final = 1000  # or this many outcomes, whichever comes first


def letterhead(config: Config) -> Letterhead:
    s, secret = config.sender, config.token_secret
    key = secret.get_secret_value().encode() if secret else None
    return Letterhead(s.address, s.name, s.reply_to, s.unsubscribe, key)


@dataclass(frozen=True, slots=True)
class Job:
    """One message to attempt now: an alert (one advisory and what changed) or a digest."""

    subscriber: Subscriber
    entry: Entry
    new: bool  # not in the ledger yet, or queued again (--force, or due again after cancelling)
    advisories: tuple[Advisory, ...]
    change: Change | None = None  # None for a digest


@dataclass(slots=True)
class Plan:
    """What is due, planned chunk by chunk: a million readers never sit in memory at once.

    The counts and `stale` are complete once `chunks` has been consumed.
    """

    chunks: Iterator[list[Job]] = field(default_factory=lambda: iter(()))
    already_sent: int = 0
    waiting: int = 0  # queued, next attempt later
    failed_before: int = 0
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
        """Count one due message by what the ledger knows of it: the job, if it goes now."""
        if entry is None or force or entry.status == "cancelled":
            resends = 0 if entry is None else entry.resends + 1
            return job(replace(fresh, resends=resends), True)
        if entry.status == "sent":
            self.already_sent += 1
        elif entry.status == "failed":
            self.failed_before += 1
        elif entry.next_attempt is not None and now < entry.next_attempt <= now + CAP:
            self.waiting += 1  # (a retry further off was set before the clock went back)
        else:
            return job(entry, False)
        return None


@dataclass(slots=True)
class Report:
    due: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    left: int = 0  # not attempted: the run was stopped; still queued
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.retrying == 0 and self.failed == 0 and self.left == 0


# A message that is due: its fresh ledger entry, and how to make its job from an entry.
_Due = tuple[Entry, Callable[[Entry, bool], Job]]


def plan(
    roster: Iterable[Subscriber],
    advisories: Iterable[Advisory],
    store: Store,
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
        for e in store.outbox.entries(status="queued")
        if e.kind == "alert"
        and (countries is None or e.advisory.partition("@")[0] in countries)
        and (shard is None or e.recipient in shard)
    }
    before: dict[str, Advisory | None] = {}

    def due(batch: list[Subscriber]) -> list[_Due]:
        pairs = [(sub, advisory) for sub in batch for advisory in concerning(sub, scope)]
        last = store.outbox.last_sent_to({sub.key for sub, _ in pairs}, keys)
        previous = [last.get((sub.key, advisory.key)) for sub, advisory in pairs]
        usual_keys = [message_key(sub.key, a.version, sub.format.value) for sub, a in pairs]
        # A version a reader had before the one they hold now: the advisory went back to
        # it. Told again, as a message of its own keyed by the message it follows: each
        # return is told once, however often the advisory goes back and forth.
        changed = [k for k, p, (_, a) in zip(usual_keys, previous, pairs, strict=True)
                   if p is not None and p[0] != a.version]  # fmt: skip
        had = {k for k, e in store.outbox.entries_for(changed).items() if e.sent_at is not None}
        out: list[_Due] = []
        for (sub, advisory), held, key in zip(pairs, previous, usual_keys, strict=True):
            was, last_message = held or ("", "")
            if was and was not in before:
                before[was] = store.outbox.advisory(was)
            change = what_changed(before.get(was), advisory)
            if key in had:
                topic = f"{advisory.version} after {last_message}"
                key = message_key(sub.key, topic, sub.format.value)
            fresh = Entry(key, "alert", sub.key, advisory.key, advisory.version,
                          sub.format.value, "queued", now, next_attempt=now)  # fmt: skip
            out.append((fresh, partial(_alert_job, sub, advisory, change)))
        return out

    return _streamed(roster, store, queued, due, now=now, force=force)


def plan_digest(
    roster: Iterable[Subscriber],
    advisories: Iterable[Advisory],
    store: Store,
    now: float,
    period: str,
    shard: Shard | None = None,
) -> Plan:
    """One reminder per subscriber per digest period, of every advisory standing for them."""
    topic = f"digest:{period}"
    scope = by_country(advisories)
    queued = {
        e.key
        for e in store.outbox.entries(status="queued")
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

    return _streamed(roster, store, queued, due, now=now)


def _streamed(
    roster: Iterable[Subscriber],
    store: Store,
    queued: set[str],
    due: Callable[[list[Subscriber]], list[_Due]],
    *,
    now: float,
    force: bool = False,
) -> Plan:
    """A plan over the roster, CHUNK at a time: what `due` wants, filed by what the
    ledger knows; what was `queued` and is no longer wanted ends up `stale`."""
    out = Plan()

    def chunks() -> Iterator[list[Job]]:
        for batch in _batched(roster, CHUNK):
            wanted = due(batch)
            known = store.outbox.entries_for([fresh.key for fresh, _ in wanted])
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
    store: Store,
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
    alerts = plan(roster, advisories, store, now, countries=countries, force=force, shard=shard)
    digests = None
    queued = store.outbox.entries(status="queued")
    if period is not None and countries is None and any(e.kind == "digest" for e in queued):
        digests = plan_digest(roster, advisories, store, now, period, shard)
    out = Plan()

    def chunks() -> Iterator[list[Job]]:
        for chunk in alerts.chunks:
            yield [job for job in chunk if not (retries_only and job.new)]
        if digests is not None:
            for chunk in digests.chunks:
                yield [job for job in chunk if not job.new]
            out.waiting += digests.waiting
            out.stale += digests.stale
        out.already_sent += alerts.already_sent
        out.waiting += alerts.waiting
        out.failed_before += alerts.failed_before
        out.stale += alerts.stale

    out.chunks = chunks()
    return out


def _batched(items: Iterable[Subscriber], size: int) -> Iterator[list[Subscriber]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _unrecorded(error: LedgerError, count: int) -> LedgerError:
    """The write that failed, and what it means for the messages it was about."""
    lines = (*error.problems, f"sending stopped: {count} outcome(s) not recorded; those "
             "messages stay queued and go again on the next run")  # fmt: skip
    return type(error)(lines)


def _alert_job(sub: Subscriber, advisory: Advisory, change: Change, entry: Entry, new: bool) -> Job:
    return Job(sub, entry, new, (advisory,), change)


def _digest_job(sub: Subscriber, standing: tuple[Advisory, ...], entry: Entry, new: bool) -> Job:
    return Job(sub, entry, new, standing)


class _Pacer:
    """Spaces sends evenly at `rate` per second (0: no limit), across all workers."""

    def __init__(self, rate: float) -> None:
        self.interval = 1 / rate if rate > 0 else 0.0
        self.slot = 0.0

    async def wait(self) -> None:
        if not self.interval:
            return
        loop = asyncio.get_running_loop()
        self.slot = max(self.slot + self.interval, loop.time())
        await asyncio.sleep(self.slot - loop.time())


async def deliver(
    config: Config,
    the_plan: Plan,
    store: Store,
    transport: Transport,
    renderer: Renderer,
    *,
    clock: Callable[[], float] = time.time,
    rng: random.Random | None = None,
    progress: Callable[[Report], None] | None = None,
    stop: asyncio.Event | None = None,
) -> Report:
    """Queue the plan's messages durably, chunk by chunk, attempt each and record the outcome.

    Once `stop` is set, no further job is started: what is in flight finishes, what was
    queued stays queued in the ledger for the next run (`Report.left`), and what was not
    yet planned is planned again by that run.
    """
    rng = rng or random.Random()
    report = Report()
    head = letterhead(config)
    give_up = config.delivery.give_up_after.total_seconds()
    pacer = _Pacer(config.delivery.rate_limit)
    feed: asyncio.Queue[Job | None] = asyncio.Queue(maxsize=CHUNK)
    attempted = 0
    remembered: set[str] = set()  # versions already kept in this run

    def stopped() -> bool:
        return stop is not None and stop.is_set()

    async def producer() -> None:
        for chunk in the_plan.chunks:
            new = [job for job in chunk if job.new]
            if new:
                with store.transaction():
                    for job in new:
                        for advisory in job.advisories:
                            if advisory.version not in remembered:
                                store.outbox.remember(advisory, clock())
                                remembered.add(advisory.version)
                    store.outbox.enqueue(job.entry for job in new)
            report.due += len(chunk)
            for job in chunk:
                await feed.put(job)
            if stopped():
                break
        else:
            with store.transaction():
                store.outbox.cancel(
                    the_plan.stale, "no longer due: the advisory or the subscription changed"
                )
        for _ in workers:
            await feed.put(None)

    splicer = Splicer(head)

    def build(job: Job) -> Envelope:
        sub, change, advisories = job.subscriber, job.change, job.advisories
        render: Callable[[Subscriber], Rendered]
        if change is None:
            group: Hashable = (tuple(a.version for a in advisories), sub.format,
                               sub.countries, sub.min_level)  # fmt: skip
            render = partial(renderer.render_digest, advisories, letterhead=head)
        else:
            group = (advisories[0].version, change, sub.format, sub.countries, sub.min_level)
            render = partial(renderer.render, advisories[0], letterhead=head, change=change)
        date = datetime.fromtimestamp(job.entry.created_at, UTC).astimezone(renderer.tz)
        reader = Reader(
            sub.name, sub.email, job.entry.key, date, head.token(sub.key), job.entry.resends
        )
        template = splicer.template(group, render, sub)
        if template is None:
            return compose(render(sub), head, reader)
        return splicer.envelope(template, reader)

    # Outcomes are written in batches, one fsync each: at most FLUSH_EVERY after the
    # server's acceptance, a message is recorded as sent. A batch that cannot be written
    # (a full disk) ends the run at once: nothing more is sent that could not be recorded.
    pending: list[Attempt] = []
    unrecorded: list[LedgerError] = []

    def note(attempt: Attempt) -> None:
        pending.append(attempt)
        if len(pending) >= FLUSH_BATCH:
            flush()

    def flush() -> None:
        if pending and not unrecorded:
            try:
                store.outbox.record_many(pending)
            except LedgerError as e:
                unrecorded.append(e)
                raise
            pending.clear()

    async def flusher() -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY)
            flush()

    async def worker() -> None:
        nonlocal attempted
        while not stopped() and (job := await feed.get()) is not None:
            attempted += 1
            envelope = build(job)
            await pacer.wait()
            try:
                await transport.send(envelope)
            except DeliveryError as e:
                _failed(job, e)
            else:
                note(Attempt(job.entry.key, "sent", clock()))
                report.delivered += 1
            if progress:
                progress(report)

    def _failed(job: Job, error: DeliveryError) -> None:
        at = clock()
        attempts = job.entry.attempts + 1
        retry_at = None
        if not isinstance(error, PermanentDeliveryError):
            retry_at = next_attempt(attempts, at, job.entry.created_at, give_up, rng)
        kind: Outcome = "permanent" if isinstance(error, PermanentDeliveryError) else "temporary"
        note(Attempt(job.entry.key, kind, at, error.reason, retry_at))
        if retry_at is None:
            report.failed += 1
            what = "failed" if kind == "permanent" else "gave up"
        else:
            report.retrying += 1
            what = f"will retry at {datetime.fromtimestamp(retry_at, UTC):%H:%M:%S} UTC"
        if len(report.errors) < MAX_ERROR_LINES:
            report.errors.append(f"{job.subscriber.email}: {error.reason} ({what})")

    workers = [asyncio.create_task(worker()) for _ in range(transport.concurrency)]
    tasks = [asyncio.create_task(producer()), *workers, asyncio.create_task(flusher())]
    try:
        # Done when every worker is; a failure anywhere ends the run. (A stopped run's
        # producer may still wait to hand over a job nobody will take: it is cancelled.)
        running = set(tasks)
        while not all(w.done() for w in workers):
            done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if (error := task.exception()) is not None:
                    raise error
    except LedgerError:
        if not unrecorded:
            raise
    finally:
        # If one task failed, stop the others before the caller lets go of the state
        # file: a worker left running would send what the next run plans again.
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        try:  # what the server accepted is recorded first: closing may take seconds
            with suppress(LedgerError):  # kept in `unrecorded`, told below
                flush()
        finally:
            await transport.close()
    if unrecorded:
        raise _unrecorded(unrecorded[0], len(pending))
    report.left = report.due - attempted
    return report

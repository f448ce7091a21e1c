"""One run: advisories -> match -> ledger (queued) -> render -> deliver -> ledger (sent/failed).

The edges (config, ledger, transport, clock, randomness) are passed in, so the same
run serves `send`, `retry` and the scheduler, and tests drive it with real parts.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from advisory.compose import Envelope, compose, message_key
from advisory.config import Config
from advisory.delivery import Transport
from advisory.errors import DeliveryError, PermanentDeliveryError
from advisory.ledger import Entry, Ledger, Outcome
from advisory.matching import by_country, concerning
from advisory.models import Advisory, Letterhead, Subscriber
from advisory.rendering import Renderer
from advisory.retry import next_attempt
from advisory.roster import iter_subscribers

__all__ = ["Job", "Plan", "Report", "deliver", "letterhead", "plan"]

MAX_ERROR_LINES: Final = 20


def letterhead(config: Config) -> Letterhead:
    s = config.sender
    return Letterhead(s.address, s.name, s.reply_to, s.unsubscribe)


@dataclass(frozen=True, slots=True)
class Job:
    """One message to attempt now."""

    subscriber: Subscriber
    advisory: Advisory
    entry: Entry
    new: bool  # not in the ledger yet, or queued again (--force, or due again after cancelling)


@dataclass(slots=True)
class Plan:
    jobs: list[Job] = field(default_factory=list)
    already_sent: int = 0
    waiting: int = 0  # queued, next attempt later
    failed_before: int = 0
    stale: list[str] = field(default_factory=list)  # queued, but no longer due


@dataclass(slots=True)
class Report:
    due: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.retrying == 0 and self.failed == 0


def plan(
    config: Config,
    advisories: Iterable[Advisory],
    ledger: Ledger,
    now: float,
    *,
    countries: Collection[str] | None = None,
    force: bool = False,
    subscribers: Iterable[Subscriber] | None = None,
) -> Plan:
    """What is due now: new alerts, retries whose time has come, and what to cancel."""
    scope = by_country(a for a in advisories if countries is None or a.country in countries)
    known = {e.key: e for e in ledger.entries(versions=[a.version for a in scope.values()])}
    out = Plan()
    wanted: set[str] = set()
    for sub in iter_subscribers(config) if subscribers is None else subscribers:
        for advisory in concerning(sub, scope):
            key = message_key(sub.key, advisory.version, sub.format.value)
            wanted.add(key)
            entry = known.get(key)
            if entry is None or force or entry.status == "cancelled":
                resends = 0 if entry is None else entry.resends + 1
                fresh = Entry(key, "alert", sub.key, advisory.country, advisory.version,
                              sub.format.value, "queued", now, next_attempt=now,
                              resends=resends)  # fmt: skip
                out.jobs.append(Job(sub, advisory, fresh, new=True))
            elif entry.status == "sent":
                out.already_sent += 1
            elif entry.status == "failed":
                out.failed_before += 1
            elif entry.next_attempt is not None and entry.next_attempt > now:
                out.waiting += 1
            else:
                out.jobs.append(Job(sub, advisory, entry, new=False))
    out.stale = [
        e.key
        for e in ledger.entries(status="queued")
        if e.kind == "alert"
        and e.key not in wanted
        and (countries is None or e.country in countries)
    ]
    return out


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
    ledger: Ledger,
    transport: Transport,
    renderer: Renderer,
    *,
    clock: Callable[[], float] = time.time,
    rng: random.Random | None = None,
    progress: Callable[[Report, int], None] | None = None,
) -> Report:
    """Queue the plan's new messages durably, then attempt every job and record each outcome."""
    rng = rng or random.Random()
    now = clock()
    with ledger.transaction():
        ledger.cancel(the_plan.stale, "no longer due: the advisory or the subscription changed")
        for advisory in {id(j.advisory): j.advisory for j in the_plan.jobs if j.new}.values():
            ledger.remember(advisory, now)
        ledger.enqueue(j.entry for j in the_plan.jobs if j.new)
    report = Report(due=len(the_plan.jobs))
    head = letterhead(config)
    give_up = config.delivery.give_up_after.total_seconds()
    pacer = _Pacer(config.delivery.rate_limit)
    todo: asyncio.Queue[Job] = asyncio.Queue()
    for job in the_plan.jobs:
        todo.put_nowait(job)

    def build(job: Job) -> Envelope:
        rendered = renderer.render(job.advisory, job.subscriber, head)
        return compose(
            rendered,
            letterhead=head,
            to_name=job.subscriber.name,
            to_address=job.subscriber.email,
            key=job.entry.key,
            date=datetime.fromtimestamp(job.entry.created_at, UTC).astimezone(renderer.tz),
            resends=job.entry.resends,
        )

    async def worker() -> None:
        while not todo.empty():
            job = todo.get_nowait()
            envelope = build(job)
            await pacer.wait()
            try:
                await transport.send(envelope)
            except DeliveryError as e:
                _failed(job, e)
            else:
                ledger.record(job.entry.key, "sent", clock())
                report.delivered += 1
            if progress:
                progress(report, todo.qsize())

    def _failed(job: Job, error: DeliveryError) -> None:
        at = clock()
        attempts = job.entry.attempts + 1
        retry_at = None
        if not isinstance(error, PermanentDeliveryError):
            retry_at = next_attempt(attempts, at, job.entry.created_at, give_up, rng)
        kind: Outcome = "permanent" if isinstance(error, PermanentDeliveryError) else "temporary"
        ledger.record(job.entry.key, kind, at, error=error.reason, retry_at=retry_at)
        if retry_at is None:
            report.failed += 1
            what = "failed" if kind == "permanent" else "gave up"
        else:
            report.retrying += 1
            what = f"will retry at {datetime.fromtimestamp(retry_at, UTC):%H:%M:%S} UTC"
        if len(report.errors) < MAX_ERROR_LINES:
            report.errors.append(f"{job.subscriber.email}: {error.reason} ({what})")

    try:
        workers = min(transport.concurrency, max(1, len(the_plan.jobs)))
        await asyncio.gather(*(worker() for _ in range(workers)))
    finally:
        await transport.close()
    return report

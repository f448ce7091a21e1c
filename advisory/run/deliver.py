"""Delivering a plan: queue each chunk durably, attempt each message, record each outcome.

The rules a reader relies on live here: a message is in the outbox as queued before
its first attempt (a crash can lose no alert); it is attempted only by the process that
claimed it (where several share the state; the claim renewed while it works, and free
for another a lease after it died); it is recorded as sent only once the server
accepted it, and every outcome is written within FLUSH_EVERY (a rerun sends nothing
twice); an outcome that cannot be written stops the run at once (nothing is sent that
could not be recorded).
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Callable, Hashable
from contextlib import suppress
from dataclasses import replace
from datetime import UTC, date, datetime
from functools import partial
from typing import TYPE_CHECKING, Final

from advisory.domain.models import Subscriber, Trip
from advisory.domain.retry import next_attempt
from advisory.domain.text import plural
from advisory.errors import DeliveryError, PermanentDeliveryError, StateError
from advisory.inputs.config import Config
from advisory.mail.compose import Envelope, Reader, compose
from advisory.mail.rendering import Rendered, Renderer
from advisory.mail.splice import Splicer
from advisory.mail.transports import Transport
from advisory.run.counts import MAX_ERROR_LINES, Counts
from advisory.run.plan import CHUNK, Job, Plan
from advisory.state import Store
from advisory.state.base import Attempt, Outcome, Told

if TYPE_CHECKING:
    from advisory.mail.dkim import Signer
    from advisory.run.duty import Note

__all__ = ["FLUSH_BATCH", "FLUSH_EVERY", "Delivery"]

FLUSH_EVERY: Final = 0.05  # seconds an outcome may wait before it is written
FLUSH_BATCH: Final = 1000  # or this many outcomes, whichever comes first
PROGRESS_EVERY: Final = 0.25  # seconds between two reports to `progress`

Progress = Callable[[Counts], None]
# A permanent refusal of the address itself, at RCPT (RFC 3463: 5.1.1 no such mailbox,
# 5.1.2 no such domain, 5.1.3 bad syntax, 5.1.6 moved, 5.1.10 null MX): the address is
# suppressed as bounced. (5.1.7 and 5.1.8 are about our sender, and suppress nobody.)
_NO_SUCH_ADDRESS: Final = re.compile(r"(?<![\d.])5\.1\.(?:1|2|3|6|10)(?![\d.])")


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


class Delivery:
    """One delivery of one plan through one transport, `transport.concurrency` at a time.

    Once `stop` is set no further message is started: what is in flight finishes, what
    was queued stays queued for the next run (`Counts.left`), and what was not yet
    planned is planned again by that run.
    """

    def __init__(
        self,
        config: Config,
        store: Store,
        transport: Transport,
        renderer: Renderer,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        progress: Progress | None = None,
        stop: asyncio.Event | None = None,
        flush_every: float = FLUSH_EVERY,
        flush_batch: int = FLUSH_BATCH,
    ) -> None:
        self.store = store
        self.transport = transport
        self.renderer = renderer
        self.head = config.letterhead
        self.escalation = config.escalation
        self.splicer = Splicer(self.head)
        self.signer: Signer | None = None
        if (dkim := config.dkim) is not None:
            from advisory.mail.dkim import Signer  # OpenSSL's bindings, only where signing

            self.signer = Signer.load(dkim.domain, dkim.selector, dkim.key_file, config.path)
        self.give_up = config.delivery.give_up_after.total_seconds()
        self.lease = config.service.lease.total_seconds()
        self.pacer = _Pacer(config.delivery.rate_limit)
        self.clock = clock
        self.rng = rng or random.Random()
        self.progress = progress
        self.stop = stop or asyncio.Event()
        self.flush_every = flush_every
        self.flush_batch = flush_batch
        self.counts = Counts()
        self.attempted = 0
        self._remembered: set[str] = set()  # advisory versions kept in this run
        self._pending: list[Attempt] = []  # outcomes not yet written
        self._bounced: list[tuple[str, float, str]] = []  # addresses refused as unknown
        self._tokens: dict[str, str] = {}  # each reader's token, made as its chunk is queued
        self._unrecorded: StateError | None = None
        self._shown = 0.0  # when `progress` was last told

    # --- the rules, each on its own ------------------------------------------------

    async def queue(self, chunk: list[Job]) -> None:
        """Queued before sent: a chunk's new messages, and the advisory versions they
        tell of, are in the outbox in one transaction before any of them is attempted."""
        new = [job for job in chunk if job.new]
        carrying = [job for job in chunk if job.carries]  # a retry's news may differ
        # Every token sent finds its reader (a retry's too, its token made by today's key).
        tokens = {(self.head.token(job.entry.recipient), job.entry.recipient)
                  for job in chunk} if self.head.takes_token else set()  # fmt: skip
        self._tokens.update((reader, token) for token, reader in tokens)  # (for `envelope`)
        told = [t for job in chunk if (t := self.told(job)) is not None]
        if not new and not carrying and not tokens and not told:
            return
        async with self.store.writing():
            self.store.suppressions.register(tokens)
            for job in new:
                for advisory in job.advisories:
                    if advisory.version not in self._remembered:
                        self.store.outbox.remember(advisory, self.clock())
                        self._remembered.add(advisory.version)
            self.store.outbox.enqueue(job.entry for job in new)
            self.store.acks.told(told)  # (of messages in the outbox)
            for job in new:
                if (note := job.note) is not None:  # what it tells, with it
                    self.store.acks.mark(job.entry.key, note.duty,
                                         [t.told.key for t in note.told], note.acks)  # fmt: skip
            for job in carrying:
                self.store.outbox.carry(job.entry.key, job.entry.recipient, job.carries)

    def asks(self, job: Job) -> bool:
        """Whether an alert asks its reader to acknowledge it: a traveller's, in the
        country of their trip open now, at or above `escalation.min_level`."""
        return (
            self.escalation is not None
            and job.entry.kind == "alert"
            and bool(job.trips)
            and job.trips[0] is not None
            and job.advisories[0].highest >= self.escalation.min_level
        )

    def told(self, job: Job) -> Told | None:
        """What the desk hears of an alert to a traveller on a trip (with `[escalation]`);
        a reminder's, with the token its link has now (the secret may have changed)."""
        if job.note is not None and job.note.duty == "reminder":
            told = job.note.told[0].told
            return replace(told, token=self.head.ack_token(told.recipient, told.version))
        if self.escalation is None or job.entry.kind != "alert" or not job.trips:
            return None
        if (trip := job.trips[0]) is None:
            return None
        sub, advisory = job.subscriber, job.advisories[0]
        token = self.head.ack_token(sub.key, advisory.version) if self.asks(job) else None
        return Told(
            job.entry.key, sub.key, sub.email, sub.name, advisory.key, advisory.version,
            advisory.country, trip.start.isoformat(), trip.end.isoformat(), token,
        )  # fmt: skip

    def envelope(self, job: Job) -> Envelope:
        """The message's bytes: spliced from its group's template when the templates
        allow, else composed in full."""
        if job.note is not None:
            return self._sign(self._duty(job, job.note))
        sub, change, advisories = job.subscriber, job.change, job.advisories
        asks = self.asks(job)
        date = datetime.fromtimestamp(job.entry.created_at, UTC).astimezone(self.renderer.tz)
        today = date.date()
        # Readers whose messages read alike share one rendering: the same advisories,
        # changes, trips (and day), format, and what the footer says they follow.
        alike = (sub.format, sub.countries, bool(sub.trips), sub.min_level, job.trips, today)
        render: Callable[[Subscriber], Rendered]
        if change is None:
            group: Hashable = (tuple(a.version for a in advisories), job.changes, *alike)
            render = partial(self.renderer.render_digest, advisories, letterhead=self.head,
                             changes=job.changes, trips=job.trips, today=today)  # fmt: skip
        else:
            group = (advisories[0].version, change, job.briefing, asks, *alike)
            render = partial(
                self.renderer.render, advisories[0], letterhead=self.head, change=change,
                trip=job.trips[0] if job.trips else None, briefing=job.briefing, today=today,
                ack=asks,
            )  # fmt: skip
        ack = self.head.ack_token(sub.key, advisories[0].version) if asks else ""
        token = self._tokens.pop(sub.key, None) or self.head.token(sub.key)
        reader = Reader(sub.name, sub.email, job.entry.key, date, token, job.entry.resends, ack)
        template = self.splicer.template(group, render, sub)
        if template is None:
            envelope = compose(render(sub), self.head, reader)
        else:
            envelope = self.splicer.envelope(template, reader)
        return self._sign(envelope)

    def _duty(self, job: Job, note: Note) -> Envelope:
        """A reminder, or a message to the desk: few, each composed in full."""
        sub, advisory, entry = job.subscriber, job.advisories[0], job.entry
        at = datetime.fromtimestamp(entry.created_at, UTC).astimezone(self.renderer.tz)
        reader = Reader(sub.name, sub.email, entry.key, at, self.head.token(sub.key),
                        entry.resends)  # fmt: skip
        if note.duty == "reminder":
            told = note.told[0].told
            trip = Trip(country=told.country, start=date.fromisoformat(told.start),
                        end=date.fromisoformat(told.end))  # fmt: skip
            rendered = self.renderer.render(advisory, sub, self.head, trip=trip,
                                            today=at.date(), ack=True, reminder=True)  # fmt: skip
            ack = self.head.ack_token(sub.key, advisory.version)
            return compose(rendered, self.head, replace(reader, ack=ack))
        assert self.escalation is not None
        lines, acks = note.lines()
        desk = replace(self.head, unsubscribe=None, page=None)  # no list to leave
        rendered = self.renderer.render_desk(note.duty, advisory, lines, acks, sub, desk,
                                             after=self.escalation.waits)  # fmt: skip
        return compose(rendered, desk, reader)

    def _sign(self, envelope: Envelope) -> Envelope:
        if self.signer is None:
            return envelope
        signed = self.signer.sign(envelope.data, self.clock())
        header = signed[: len(signed) - len(envelope.data)]  # (the one header it adds)
        wire = None if envelope.wire is None else header + envelope.wire
        return replace(envelope, data=signed, wire=wire)

    async def attempt(
        self, job: Job, envelope: Envelope | None = None, then: Envelope | None = None
    ) -> None:
        """Hand one message to the transport (`then`: the one to follow it on the same
        connection) and note its outcome."""
        self.attempted += 1
        envelope = envelope or self.envelope(job)
        await self.pacer.wait()
        try:
            await self.transport.send(envelope, then)
        except DeliveryError as e:
            self._failed(job, e)
        else:
            self.note(Attempt(job.entry.key, "sent", self.clock()))
            self.counts.delivered += 1

    def note(self, attempt: Attempt) -> None:
        """An outcome to write: in batches, one fsync each, at most `flush_every` late."""
        self._pending.append(attempt)
        if len(self._pending) >= self.flush_batch:
            self.flush()

    def flush(self) -> None:
        """Write the outcomes noted; a write that fails ends the run (`StateError`)."""
        if self._pending and self._unrecorded is None:
            try:
                written = self._write()
            except StateError as e:
                self._unrecorded = e
                raise
            self._written(written)

    def _write(self) -> tuple[int, int]:
        """The outcomes and bounces noted, written; how many of each (once committed,
        `_written` forgets them: a commit that fails leaves them to be reported)."""
        self.store.outbox.record_many(self._pending)
        for address, at, why in self._bounced:
            self.store.suppressions.suppress(address, "bounced", at, why)
        return len(self._pending), len(self._bounced)

    def _written(self, written: tuple[int, int]) -> None:
        del self._pending[: written[0]]
        del self._bounced[: written[1]]

    def _failed(self, job: Job, error: DeliveryError) -> None:
        at = self.clock()
        attempts = job.entry.attempts + 1
        permanent = isinstance(error, PermanentDeliveryError)
        retry_at = None
        if not permanent:
            retry_at = next_attempt(attempts, at, job.entry.created_at, self.give_up, self.rng)
        kind: Outcome = "permanent" if permanent else "temporary"
        if permanent and error.at_rcpt and _NO_SUCH_ADDRESS.search(error.reason):
            self._bounced.append((job.entry.recipient, at, error.reason))
        self.note(Attempt(job.entry.key, kind, at, error.reason, retry_at))
        if retry_at is None:
            self.counts.failed += 1
            what = "failed" if permanent else "gave up"
        else:
            self.counts.retrying += 1
            what = f"will retry at {datetime.fromtimestamp(retry_at, UTC):%H:%M:%S} UTC"
        if len(self.counts.errors) < MAX_ERROR_LINES:
            self.counts.errors.append(f"{job.subscriber.email}: {error.reason} ({what})")

    # --- the run -------------------------------------------------------------------

    async def run(self, plan: Plan) -> Counts:
        """Deliver the whole plan: the counts of this run, the plan's own included."""
        # Where processes share the state, each claims a few jobs at a time, as its
        # connections take them: the others take the rest.
        claims = CHUNK if not self.store.shared else max(50, 2 * self.transport.concurrency)
        planned: asyncio.Queue[list[Job] | None] = asyncio.Queue(maxsize=1)
        feed: asyncio.Queue[Job | None] = asyncio.Queue(maxsize=claims)
        workers = [asyncio.create_task(self._work(feed, plan))
                   for _ in range(self.transport.concurrency)]  # fmt: skip
        tasks = [asyncio.create_task(self._produce(plan, planned)),
                 asyncio.create_task(self._hand_out(planned, feed, claims, len(workers))),
                 *workers,
                 asyncio.create_task(self._flush_every()),
                 asyncio.create_task(self._renew_every())]  # fmt: skip
        ended = False  # (not by a failure)
        try:
            # Done when every worker is; a failure anywhere ends the run. (A stopped run's
            # producer may still wait to hand over a job nobody will take: it is cancelled.)
            running = set(tasks)
            while not all(w.done() for w in workers):
                done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    if (error := task.exception()) is not None:
                        raise error
            ended = True
        except StateError:
            if self._unrecorded is None:
                raise
        finally:
            # If one task failed, stop the others before the caller lets go of the state:
            # a worker left running would send what the next run plans again.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            try:  # what the server accepted is recorded first: closing may take seconds
                with suppress(StateError):  # kept in `_unrecorded`, told below
                    self.flush()
                if ended:  # what was not attempted is for others at once; after a failure
                    with suppress(StateError):  # (a send cut short) theirs after the lease
                        self.store.outbox.unclaim()
            finally:
                await self.transport.close()
        if self._unrecorded is not None:
            lines = (*self._unrecorded.problems, f"sending stopped: "
                     f"{plural(len(self._pending), 'outcome')} not recorded; those messages "
                     "stay queued and go again on the next run")  # fmt: skip
            raise type(self._unrecorded)(lines)
        self.counts.left = self.counts.due - self.attempted
        return self.counts + plan.counts

    def claim(self, jobs: list[Job]) -> list[Job]:
        """The queued jobs this process holds to send (all, on a state one run holds);
        the others another process sends."""
        mine = set(self.store.outbox.claim([job.entry.key for job in jobs], self.lease))
        for job in jobs:
            if job.entry.key not in mine:  # (its token is another process's to use)
                self._tokens.pop(job.entry.recipient, None)
        self.counts.elsewhere += len(jobs) - len(mine)
        self.counts.due -= len(jobs) - len(mine)  # (due for this process, as it planned)
        return [job for job in jobs if job.entry.key in mine]

    async def _produce(self, plan: Plan, planned: asyncio.Queue[list[Job] | None]) -> None:
        """Plan and queue chunk by chunk, a chunk ahead of the claims."""
        for chunk in plan.chunks:
            await self.queue(chunk)
            self.counts.due += len(chunk)
            await planned.put(chunk)
            if self.stop.is_set():
                break
        else:
            with self.store.transaction():
                self.store.outbox.cancel(
                    plan.stale, "no longer due: the advisory or the subscription changed"
                )
        await planned.put(None)

    async def _hand_out(
        self,
        planned: asyncio.Queue[list[Job] | None],
        feed: asyncio.Queue[Job | None],
        claims: int,
        workers: int,
    ) -> None:
        """Claim what is queued `claims` at a time, as the connections free up."""
        while not self.stop.is_set() and (chunk := await planned.get()) is not None:
            for start in range(0, len(chunk), claims):
                for job in self.claim(chunk[start : start + claims]):
                    await feed.put(job)
        for _ in range(workers):
            await feed.put(None)

    async def _work(self, feed: asyncio.Queue[Job | None], plan: Plan) -> None:
        """One connection's messages, each told the next where one is ready (and the
        rate is not limited): its commands go with this one's end. Once `stop` is set,
        one so begun stays queued: closing its connection ends it unsent."""
        ahead = self.transport.ahead and not self.pacer.interval
        job = None if self.stop.is_set() else await feed.get()
        envelope: Envelope | None = None  # the job's, made as the one before it went
        while job is not None:
            then: Job | None = None
            last = False
            if ahead and not feed.empty() and not self.stop.is_set():
                then = feed.get_nowait()
                last = then is None  # (this worker's end)
            upcoming = self.envelope(then) if then is not None else None
            await self.attempt(job, envelope, upcoming)
            if self.progress and (now := time.monotonic()) - self._shown >= PROGRESS_EVERY:
                self._shown = now
                self.progress(self.counts + plan.counts)
            if last or self.stop.is_set():
                break
            job, envelope = (then, upcoming) if then is not None else (await feed.get(), None)

    async def _flush_every(self) -> None:
        while True:
            await asyncio.sleep(self.flush_every)
            if self._pending and self._unrecorded is None:
                try:
                    async with self.store.writing():
                        written = self._write()
                except StateError as e:  # (no turn to write came, or the commit failed)
                    self._unrecorded = e
                    raise
                self._written(written)

    async def _renew_every(self) -> None:
        """Say, three times a lease, that what this process holds it still works on."""
        while True:
            await asyncio.sleep(self.lease / 3)
            self.store.outbox.renew(self.lease)

"""`advisory serve`: APScheduler wiring for the check and digest jobs, and a clean stop.

Each run re-reads the advisory files and goes through the same plan/deliver code as
`advisory send`. Jobs never overlap (one instance, late runs coalesced). The first
SIGTERM or SIGINT stops new work and lets in-flight deliveries finish; a second one
exits at once (SQLite keeps the state file valid either way).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from advisory.domain.models import Advisory
from advisory.domain.schedule import cron_trigger, digest_period
from advisory.errors import AdvisoryError, StateBusy
from advisory.inputs.advisory_files import known
from advisory.inputs.config import Config
from advisory.inputs.subscribers import Roster, read_roster
from advisory.logs import Log
from advisory.mail.rendering import Renderer
from advisory.mail.transports import open_transport
from advisory.publishers.refresh import Round, refresh
from advisory.run import workers as shards
from advisory.run.deliver import Plan, deliver, plan_digest, plan_run
from advisory.state import Store, open_store

__all__ = ["serve"]


class Service:
    """The jobs `serve` schedules, with what they share: config, store, log, stop flag."""

    def __init__(self, config: Config, renderer: Renderer, store: Store, log: Log) -> None:
        self.config = config
        self.renderer = renderer
        self.store = store
        self.log = log
        self.stop = asyncio.Event()
        self.running: set[asyncio.Task[None]] = set()
        self.turn = asyncio.Lock()  # the check and the digest take turns, never skip

    def period(self, now: float) -> str | None:
        return digest_period(self.config.schedule.digest, self.config.service.timezone, now)

    async def check(self) -> None:
        """Alert on new or changed advisories, and deliver the retries that are due."""
        await self._run(
            "check", lambda roster, advisories, now: plan_run(
                roster, advisories, self.store, now, period=self.period(now)
            ),
            lambda now: shards.Options(),
            refreshing=True,
        )  # fmt: skip

    async def digest(self) -> None:
        """Remind every subscriber of the advisories standing for them, once per period."""
        await self._run(
            "digest", lambda roster, advisories, now: plan_digest(
                roster, advisories, self.store, now, self.period(now) or "never"
            ),
            lambda now: shards.Options(digest_period=self.period(now) or "never"),
        )  # fmt: skip

    def _tell(self, rounds: list[Round], job: str) -> None:
        for found in rounds:
            for event, line in found.said():
                self.log(event, line, job=job, source=found.kind)

    async def _wait_for_state_file(self, job: str) -> bool:
        """Hold the state file's run lock; while a `send` holds it, wait (until stopped)."""
        waited = False
        while not self.stop.is_set():
            try:
                self.store.acquire()
                return True
            except StateBusy:
                if not waited:
                    self.log("waiting", f"{job}: another run holds the state file", job=job)
                    waited = True
                await asyncio.sleep(0.5)
        return False

    async def _run(
        self,
        job: str,
        planner: Callable[[Roster, list[Advisory], float], Plan],
        sharded: Callable[[float], shards.Options],
        *,
        refreshing: bool = False,
    ) -> None:
        if self.stop.is_set():
            return
        task = asyncio.current_task()
        assert task is not None
        self.running.add(task)
        started = time.monotonic()
        try:
            async with self.turn:
                if not await self._wait_for_state_file(job):
                    return
                try:
                    if refreshing and self.config.publishers:
                        self._tell(await refresh(self.config, self.store, time.time()), job)
                    if shards.sharded(self.config):  # each shard checks its part first
                        report, the_plan = await shards.run(
                            self.config, sharded(time.time()), self.store, stop=self.stop
                        )
                    else:
                        # The whole list first, as `send` does: a bad row added while
                        # serving must hold back the run, not stop it halfway through.
                        with read_roster(self.config) as roster:
                            advisories = known(self.config, self.store)
                            the_plan = planner(roster, advisories, time.time())
                            report = await deliver(
                                self.config, the_plan, self.store,
                                open_transport(self.config), self.renderer, stop=self.stop,
                            )  # fmt: skip
                finally:
                    self.store.release()
        except AdvisoryError as e:
            for line in e.problems:
                self.log("error", f"{job}: {line}", job=job)
            return
        except Exception as e:  # a bug or a broken disk: say so in one line, keep serving
            self.log("error", f"{job}: {type(e).__name__}: {e}", job=job)
            return
        finally:
            self.running.discard(task)
        for line in report.errors:
            self.log("delivery", line, job=job)
        failed = report.retrying + report.failed
        duration = time.monotonic() - started
        self.log(
            job,
            f"due {report.due}, delivered {report.delivered}, failed {failed}, "
            f"left {report.left}; {the_plan.already_sent} already sent; {duration:.2f}s",
            job=job, due=report.due, delivered=report.delivered, failed=failed,
            left=report.left, already_sent=the_plan.already_sent, seconds=round(duration, 3),
        )  # fmt: skip


def serve(config: Config, renderer: Renderer, *, check_every: float | None, log: Log) -> int:
    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # our own log says what ran
    with open_store(config.service.state) as store:
        return asyncio.run(_serve(config, renderer, store, check_every, log))


async def _serve(
    config: Config, renderer: Renderer, store: Store, check_every: float | None, log: Log
) -> int:
    service = Service(config, renderer, store, log)
    loop = asyncio.get_running_loop()
    signals: list[int] = []

    def on_signal(signum: int) -> None:
        signals.append(signum)
        if len(signals) == 1:
            log("stopping", f"{signal.Signals(signum).name}: finishing deliveries in flight")
            service.stop.set()
        else:
            log("stopping", "second signal: exiting now; undelivered messages stay queued")
            os._exit(1)

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)

    tz = ZoneInfo(config.service.timezone)
    check: BaseTrigger = (
        IntervalTrigger(seconds=check_every, timezone=tz)
        if check_every
        else cron_trigger(config.schedule.check, tz)
    )
    scheduler = AsyncIOScheduler(
        timezone=tz,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )
    scheduler.add_job(service.check, check, id="check", next_run_time=datetime.now(tz))
    if config.schedule.digest:
        scheduler.add_job(
            service.digest, cron_trigger(config.schedule.digest, tz),
            id="digest",
        )  # fmt: skip
    scheduler.start()
    every = f"every {check_every:g}s" if check_every else f'"{config.schedule.check}"'
    digest = f', digest "{config.schedule.digest}"' if config.schedule.digest else ""
    log("started", f"check {every}{digest} ({config.service.timezone})")

    await service.stop.wait()
    scheduler.pause()  # no new runs; shutting down now would cancel the one in flight
    if service.running:
        # A message in flight may need a connection and a transaction: each up to the timeout.
        await asyncio.wait(service.running, timeout=2 * config.smtp.timeout + 5)
    scheduler.shutdown(wait=False)
    queued = store.outbox.counts().get("queued", 0)
    log("stopped", f"{queued} message(s) queued for the next run", queued=queued)
    return 0

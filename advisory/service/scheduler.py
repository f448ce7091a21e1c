"""`advisory serve`: APScheduler wiring for the check and digest jobs, the web endpoint
(`[http]`) in the same event loop, and a clean stop.

Each run re-reads the advisory files and goes through the same plan/deliver code as
`advisory send`. Jobs never overlap (one instance, late runs coalesced). The first
SIGTERM or SIGINT stops new work and lets in-flight deliveries finish; a second one
exits at once (SQLite keeps the state file valid either way). The web endpoint stops
first: its listener closes, the requests in flight finish, then the runs do.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from advisory.domain.schedule import cron_trigger
from advisory.domain.text import plural
from advisory.errors import AdvisoryError, ConfigError
from advisory.inputs.config import Config
from advisory.logs import Log
from advisory.mail.rendering import Renderer
from advisory.publishers.reading import Round
from advisory.run import loop
from advisory.run.plan import DIGESTS, Digest, Purpose
from advisory.run.run import hold, run
from advisory.service.metrics import Metrics
from advisory.service.notify import notify
from advisory.service.web import application
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
        self.started = time.time()
        self.last_check: float | None = None  # when a check last finished
        self.period = 900.0  # seconds between two checks, for the health of the service
        self.metrics = Metrics(store)

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Healthy while the last check finished within three check periods (or the
        first is not yet due that long) and the state answers."""
        since = self.last_check if self.last_check is not None else self.started
        fresh = time.time() - since <= 3 * self.period
        try:
            counts = self.store.outbox.counts()
        except AdvisoryError:
            return False, {"status": "error", "last_check": self.last_check}
        said = {"status": "ok" if fresh else "stale", "last_check": self.last_check,
                "queued": counts.get("queued", 0), "failed": counts.get("failed", 0)}  # fmt: skip
        return fresh, said

    async def check(self) -> None:
        """Alert on new or changed advisories, and deliver the retries that are due."""
        await self._run(Purpose("check"))

    async def escalate(self) -> None:
        """The reminders and escalations that fell due since the last run (`[escalation]`)."""
        await self._run(Purpose("escalate"))

    async def digest(self, which: Digest = "digest") -> None:
        """Once per period: remind every subscriber of the advisories standing for them
        (`digest`), or tell the readers of a `daily` or `weekly` digest their news."""
        await self._run(Purpose("digest", digest=which))

    def _tell(self, rounds: list[Round], job: str) -> None:
        for found in rounds:
            if found.errors:
                self.metrics.fetch_failed(found.kind, len(found.errors))
            for event, line in found.said():
                self.log(event, line, job=job, source=found.kind)

    async def _run(self, purpose: Purpose) -> None:
        """One run, as `advisory send` makes it; a failure is a line in the log, and the
        service goes on. A bad row added while serving holds back that run, whole."""
        job = purpose.digest if purpose.job == "digest" else purpose.job
        if self.stop.is_set():
            return
        task = asyncio.current_task()
        assert task is not None
        self.running.add(task)
        started = time.monotonic()

        def waiting() -> None:
            self.log("waiting", f"{job}: another run holds the state file", job=job)

        try:
            async with self.turn, hold(self.store, waiting, self.stop) as held:
                if not held:
                    return
                counts = await run(
                    self.config, purpose, self.store, renderer=self.renderer, stop=self.stop,
                    tell=lambda rounds: self._tell(rounds, job),
                )  # fmt: skip
        except AdvisoryError as e:
            for line in e.problems:
                self.log("error", f"{job}: {line}", job=job)
            return
        except Exception as e:  # a bug or a broken disk: say so in one line, keep serving
            self.log("error", f"{job}: {type(e).__name__}: {e}", job=job)
            return
        finally:
            self.running.discard(task)
        if purpose.job == "check":
            self.last_check = time.time()
        self.metrics.ran(purpose.job, counts, time.monotonic() - started)
        if purpose.job == "escalate" and not counts.due:
            return  # every few seconds: said only when it sent something
        for line in counts.errors:
            self.log("delivery", line, job=job)
        failed = counts.retrying + counts.failed
        duration = time.monotonic() - started
        some = counts.carried and not counts.unchanged  # (only the readers of the news)
        self.log(
            purpose.job,
            f"{'' if job == purpose.job else job + ': '}due {counts.due}, "
            f"delivered {counts.delivered}, failed {failed}, "
            f"left {counts.left}; {counts.already_sent} already sent; "
            + (f"{counts.elsewhere} with other processes; " if counts.elsewhere else "")
            + f"{counts.suppressed} suppressed; "
            + ("nothing changed; " if counts.unchanged else "")
            + (f"{counts.readers - counts.carried} readers planned; " if some else "")
            + f"{duration:.2f}s",
            job=job, due=counts.due, delivered=counts.delivered, failed=failed,
            left=counts.left, already_sent=counts.already_sent, suppressed=counts.suppressed,
            elsewhere=counts.elsewhere, unchanged=bool(counts.unchanged), carried=counts.carried,
            seconds=round(duration, 3),
        )  # fmt: skip


def _period(config: Config, tz: ZoneInfo) -> float:
    """Seconds between two scheduled checks (the shortest gap of the next few)."""
    trigger = cron_trigger(config.schedule.check, tz)
    fires: list[datetime] = []
    fire = trigger.get_next_fire_time(None, datetime.now(tz))
    while fire is not None and len(fires) < 4:
        fires.append(fire)
        fire = trigger.get_next_fire_time(fire, fire)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(fires)]
    return min(gaps, default=86400.0)


async def _listen(config: Config, store: Store, service: Service) -> web.AppRunner:
    """The web endpoint, listening before anything is scheduled: a port in use is a
    one-line error (exit 2) and nothing is sent."""
    assert config.http is not None
    runner = web.AppRunner(
        application(config.letterhead, store, service.health, service.metrics.text,
                    service.renderer.moment),
        access_log=None, handle_signals=False, shutdown_timeout=2 * config.smtp.timeout + 5,
    )  # fmt: skip
    await runner.setup()
    host, port = config.http.address
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as e:
        await runner.cleanup()
        raise ConfigError(
            f"{config.path}: http.listen: cannot listen on {config.http.listen}: {e.strerror or e}"
        ) from None
    return runner


def serve(config: Config, renderer: Renderer, *, check_every: float | None, log: Log) -> int:
    with open_store(config.state) as store:
        return loop.run(_serve(config, renderer, store, check_every, log))


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
            notify("STOPPING=1")
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
    service.period = float(check_every) if check_every else _period(config, tz)
    runner = await _listen(config, store, service) if config.http else None
    scheduler = AsyncIOScheduler(
        timezone=tz,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )
    scheduler.add_job(service.check, check, id="check", next_run_time=datetime.now(tz))
    if config.escalation is not None:
        # Often enough that an escalation comes within a tenth of `after` of its time.
        often = min(60.0, max(1.0, config.escalation.after.total_seconds() / 10))
        scheduler.add_job(service.escalate, IntervalTrigger(seconds=often, timezone=tz),
                          id="escalate")  # fmt: skip
    crons = {name: getattr(config.schedule, name) for name in DIGESTS}
    for name, cron in crons.items():
        if cron:
            # A digest is due once per period: one the service was down for (or is
            # started in) goes at start; a period's digest already sent is not sent again.
            scheduler.add_job(
                service.digest, cron_trigger(cron, tz), args=(name,),
                id=name, next_run_time=datetime.now(tz),
            )  # fmt: skip
    scheduler.start()
    every = f"every {check_every:g}s" if check_every else f'"{config.schedule.check}"'
    digests = "".join(f', {name} "{cron}"' for name, cron in crons.items() if cron)
    http = f"; http on {config.http.listen}" if config.http else ""
    desk = f"; escalation to {config.escalation.desk}" if config.escalation else ""
    log("started", f"check {every}{digests} ({config.service.timezone}){http}{desk}")
    notify("READY=1")

    await service.stop.wait()
    scheduler.pause()  # no new runs; shutting down now would cancel the one in flight
    if runner is not None:
        await runner.cleanup()  # the listener closes; requests in flight finish
    if service.running:
        # A message in flight may need a connection and a transaction: each up to the timeout.
        await asyncio.wait(service.running, timeout=2 * config.smtp.timeout + 5)
    scheduler.shutdown(wait=False)
    queued = store.outbox.counts().get("queued", 0)
    log("stopped", f"{plural(queued, 'message')} queued for the next run", queued=queued)
    return 0

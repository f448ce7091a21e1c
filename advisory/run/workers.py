"""A run split over processes, one shard of the subscriber list each, to use every core.

The process that holds the state file's run lock takes shard 0 and starts a child
(`python -m advisory.shards`) for each other shard. Each validates its shard of the
list and waits: only when every shard is valid does the parent say go, so a bad row
anywhere still sends nothing. Each then plans, queues and delivers its shard exactly as
a one-process run does, with its share of the connections and of the rate limit, in
the same ledger (SQLite serialises the writes; a message belongs to one shard only).
Children report to the parent in JSON lines on stdout: checked, progress, done.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from advisory.domain.models import Advisory
from advisory.domain.schedule import digest_period
from advisory.errors import AdvisoryError, ConfigError
from advisory.inputs import config as config_file
from advisory.inputs.advisory_files import known
from advisory.inputs.config import Config
from advisory.inputs.subscribers import Roster, Shard, read_roster
from advisory.mail.rendering import Renderer
from advisory.mail.transports import open_transport
from advisory.run.deliver import MAX_ERROR_LINES, Plan, Report, deliver, plan_digest, plan_run
from advisory.state import Store, open_store

__all__ = ["Options", "run", "sharded"]


def sharded(config: Config) -> bool:
    """Whether runs of this config are split over processes (SMTP only)."""
    return config.delivery.transport == "smtp" and config.smtp.processes > 1


@dataclass(frozen=True)
class Options:
    """What the run is for: a `send` (its flags), a `retry`, or a scheduled digest."""

    countries: list[str] | None = None
    force: bool = False
    retries_only: bool = False
    digest_period: str | None = None  # set: the digest job for this period
    shard: tuple[int, int] = (0, 1)


@dataclass
class _Child:
    proc: asyncio.subprocess.Process
    progress: Report = field(default_factory=Report)
    done: dict[str, Any] | None = None
    error: str = ""

    async def line(self) -> dict[str, Any] | None:
        """The child's next message; None at its end (or once it says something unreadable,
        after which the rest is drained so the child never blocks on a full pipe)."""
        assert self.proc.stdout is not None
        try:
            raw = await self.proc.stdout.readline()
            return json.loads(raw) if raw else None
        except (ValueError, json.JSONDecodeError) as e:
            self.error = f"a delivery process sent an unreadable report ({type(e).__name__})"
            while await self.proc.stdout.read(2**16):
                pass
            return None

    def tell(self, text: str) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(ConnectionError):
            self.proc.stdin.write(text.encode() + b"\n")


async def run(
    config: Config,
    options: Options,
    store: Store,
    *,
    stop: asyncio.Event | None = None,
    progress: Callable[[Report], None] | None = None,
) -> tuple[Report, Plan]:
    """The whole run: shard 0 here, the others in child processes; the summed report.

    The caller holds the state file's run lock on `ledger`. ConfigError if any shard is
    invalid (nothing sent); AdvisoryError if a child fails (what it held stays queued).
    Without a `stop` event of the caller's, SIGINT and SIGTERM stop the run the same way.
    """
    loop = asyncio.get_running_loop()
    if stop is None:
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
    count = config.smtp.processes
    children = []
    for index in range(1, count):
        # Their own session: a Ctrl-C at the terminal reaches this process alone, which
        # stops the children itself. They validate the very bytes this process read.
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "advisory.run.workers", str(config.path),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            limit=2**24, start_new_session=True,
        )  # fmt: skip
        child = _Child(proc)
        mine = asdict(options) | {"shard": (index, count)}
        child.tell(json.dumps({"options": mine, "config": config.raw.decode()}))
        children.append(child)
    try:
        return await _supervise(config, options, store, children, stop, progress)
    finally:
        await _end(children, grace=2 * config.smtp.timeout + 5)


async def _end(children: list[_Child], grace: float) -> None:
    """Let every child finish what it has in flight and record it; force only the stuck."""
    for child in children:
        if child.proc.stdin is not None:
            child.proc.stdin.close()
    for child in children:
        for signum in (None, signal.SIGTERM, signal.SIGKILL):
            if child.proc.returncode is not None:
                break
            if signum is not None:
                child.proc.send_signal(signum)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(child.proc.wait(), grace if signum is None else 5)


async def _supervise(
    config: Config,
    options: Options,
    store: Store,
    children: list[_Child],
    stop: asyncio.Event,
    progress: Callable[[Report], None] | None,
) -> tuple[Report, Plan]:
    shard = Shard(0, len(children) + 1)
    problems: list[str] = []
    advisories: list[Advisory] = []
    roster = Roster()
    try:  # our own shard, while the children check theirs
        roster = read_roster(config, shard)
        advisories = known(config, store)
    except AdvisoryError as e:
        problems += e.problems
    for child in children:
        first = await child.line()
        if first is None and not stop.is_set():
            status = await child.proc.wait()
            problems.append(child.error or f"a delivery process exited with status {status}")
        elif first is not None:
            problems += [p for p in first.get("problems", ()) if p not in problems]
    if problems or stop.is_set():
        roster.close()
        await _end(children, grace=5)  # no go: each child exits without sending
        if problems and not stop.is_set():
            raise ConfigError(problems)
        raise AdvisoryError("stopped before any message was sent; what is due stays due")
    for child in children:
        child.tell("go")
    own = Report()
    shown = 0.0

    def tally(report: Report | None = None) -> None:
        # Called for every message of our own shard: sum the shards twice a second at most.
        nonlocal own, shown
        own = report or own
        if progress and (now := time.monotonic()) - shown >= 0.5:
            shown = now
            progress(_sum([own, *(c.progress for c in children)]))

    async def follow(child: _Child) -> None:
        while (message := await child.line()) is not None:
            if "progress" in message:
                child.progress = Report(**message["progress"])
                tally()
            elif "error" in message:
                child.error = message["error"]
            else:
                child.done = message
        await child.proc.wait()

    async def relay_stop() -> None:
        await stop.wait()
        for child in children:
            if child.proc.stdin is not None:
                child.proc.stdin.close()  # a child stops when its stdin ends

    watcher = asyncio.create_task(relay_stop())
    try:
        share = _share(config, 0, len(children) + 1)
        followers = asyncio.gather(*(follow(child) for child in children))
        try:
            with roster:
                own, plan = await _planned(
                    share, options, roster, shard, advisories, store, tally, stop
                )
        except BaseException:
            stop.set()  # the children stop too, and finish what they have in flight
            raise
        finally:
            with contextlib.suppress(Exception):
                await followers
    finally:
        watcher.cancel()
    failed = [c for c in children if c.done is None]
    if failed:
        why = (
            failed[0].error or f"a delivery process exited with status {failed[0].proc.returncode}"
        )
        raise AdvisoryError(f"{why}; what it had not delivered stays queued for the next run")
    done = [c.done for c in children if c.done is not None]
    for key in ("already_sent", "waiting", "failed_before"):
        setattr(plan, key, getattr(plan, key) + sum(d["plan"][key] for d in done))
    return _sum([own, *(Report(**d["report"]) for d in done)]), plan


def _share(config: Config, index: int, count: int) -> Config:
    """The config as shard `index` of `count` sees it: its part of connections and rate."""
    smtp, delivery = config.smtp, config.delivery
    connections = smtp.connections // count + (index < smtp.connections % count)
    return config.model_copy(
        update={
            "smtp": smtp.model_copy(update={"connections": connections}),
            "delivery": delivery.model_copy(update={"rate_limit": delivery.rate_limit / count}),
        }
    )


def _sum(reports: list[Report]) -> Report:
    total = Report()
    for r in reports:
        total.due += r.due
        total.delivered += r.delivered
        total.retrying += r.retrying
        total.failed += r.failed
        total.left += r.left
        total.errors += r.errors[: MAX_ERROR_LINES - len(total.errors)]
    return total


def _say(**message: Any) -> None:
    # A parent gone is no reason to stop recording outcomes in the ledger.
    with contextlib.suppress(BrokenPipeError):
        print(json.dumps(message), flush=True)


def _child() -> int:
    """One shard: check it, wait for the word, then plan, queue and deliver it."""
    line = sys.stdin.readline()
    if not line.endswith("\n"):
        return 0  # the parent went before saying (all of) what to do: nothing to do
    first = json.loads(line)
    options = Options(**first["options"])
    index, count = options.shard
    shard = Shard(index, count)
    try:
        config = config_file.load(Path(sys.argv[1]), raw=first["config"].encode())
        roster = read_roster(config, shard)
        with open_store(config.service.state, readonly=True) as store:
            advisories = known(config, store)  # as the parent fetched them for this run
    except AdvisoryError as e:
        _say(problems=list(e.problems))
        return e.exit_code
    _say(checked=True)
    if sys.stdin.readline().strip() != "go":
        return 0  # another shard is invalid, or the run was stopped: nothing sent
    with roster:
        return asyncio.run(
            _deliver(_share(config, index, count), options, roster, shard, advisories)
        )


async def _deliver(
    config: Config, options: Options, roster: Roster, shard: Shard, advisories: list[Advisory]
) -> int:
    # Stop (finish what is in flight, keep the rest queued) when stdin ends: the parent
    # closed it to stop the run, or the parent is gone.
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)

    def on_stdin() -> None:
        if not _read_some():
            loop.remove_reader(sys.stdin.fileno())
            stop.set()

    loop.add_reader(sys.stdin.fileno(), on_stdin)
    last = 0.0

    def progress(report: Report) -> None:
        nonlocal last
        if (now := time.monotonic()) - last >= 0.5:
            last = now
            _say(progress=asdict(report) | {"errors": []})

    try:
        with open_store(config.service.state) as store:
            report, the_plan = await _planned(
                config, options, roster, shard, advisories, store, progress, stop
            )
    except AdvisoryError as e:
        _say(error="; ".join(e.problems))
        return e.exit_code
    counts = {k: getattr(the_plan, k) for k in ("already_sent", "waiting", "failed_before")}
    report.errors = [line[:2000] for line in report.errors]  # a server's reply can be long
    _say(report=asdict(report), plan=counts)
    return 0


async def _planned(
    config: Config,
    options: Options,
    roster: Roster,
    shard: Shard,
    advisories: list[Advisory],
    store: Store,
    progress: Callable[[Report], None],
    stop: asyncio.Event,
) -> tuple[Report, Plan]:
    """Plan, queue and deliver one shard: what a one-process run does for the whole list."""
    renderer = Renderer(timezone=config.service.timezone)
    now = time.time()
    if options.digest_period is not None:
        the_plan = plan_digest(roster, advisories, store, now, options.digest_period, shard)
    else:
        period = digest_period(config.schedule.digest, config.service.timezone, now)
        the_plan = plan_run(
            roster, advisories, store, now, period=period, countries=options.countries,
            force=options.force, retries_only=options.retries_only, shard=shard,
        )  # fmt: skip
    report = await deliver(
        config, the_plan, store, open_transport(config), renderer,
        progress=progress, stop=stop,
    )  # fmt: skip
    return report, the_plan


def _read_some() -> bytes:
    try:
        return os.read(sys.stdin.fileno(), 4096)
    except OSError:
        return b""


def main() -> None:
    # The parent decides when to stop: a Ctrl-C to the process group is its to handle.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(_child())


if __name__ == "__main__":
    main()

"""A run split over processes, one shard of the subscriber list each, to use every core.

The process that holds the state's run lock takes shard 0 and starts a worker
(`python -m advisory.run.worker`) for each other shard. Each validates its shard of
the list and waits: only when every shard is valid does the parent say go, so a bad
row anywhere still sends nothing. Each then calls the one `run.run` for its shard,
with its share of the connections and of the rate limit, in the same state (SQLite
serialises the writes; a message belongs to one shard only). Workers report to the
parent in JSON lines on stdout: checked, progress, done.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from advisory.domain.models import Advisory
from advisory.errors import AdvisoryError, ConfigError
from advisory.inputs import config as config_file
from advisory.inputs.config import Config
from advisory.inputs.subscribers import Roster, Shard, read_roster
from advisory.run import loop
from advisory.run.advisories import known
from advisory.run.counts import Counts
from advisory.run.deliver import Progress
from advisory.run.plan import Purpose
from advisory.state import Store, open_store

__all__ = ["One", "main", "run"]

# The one run (`run.run`) for one shard: the parent's own, and each worker's.
One = Callable[..., Awaitable[Counts]]


@dataclass
class _Worker:
    proc: asyncio.subprocess.Process
    progress: Counts = field(default_factory=Counts)
    done: Counts | None = None
    error: str = ""

    async def line(self) -> dict[str, Any] | None:
        """The worker's next message; None at its end (or once it says something
        unreadable, after which the rest is drained so it never blocks on a full pipe)."""
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
        """Say `text`, unless the worker is gone: one killed at its start (a Ctrl-C
        that reached it before its own session began) has a closed pipe, and its end is
        read from its stdout like any other."""
        stdin = self.proc.stdin
        assert stdin is not None
        if stdin.is_closing():
            return
        with contextlib.suppress(ConnectionError):
            stdin.write(text.encode() + b"\n")

    def failure(self) -> str:
        return self.error or f"a delivery process exited with status {self.proc.returncode}"


async def run(
    config: Config,
    purpose: Purpose,
    store: Store,
    own: One,
    *,
    stop: asyncio.Event | None = None,
    progress: Progress | None = None,
    skew: float = 0.0,
) -> Counts:
    """The whole run: shard 0 here (`own`), the others in worker processes; the summed
    counts. `skew`: how far the run's clock is from the real one (`$ADVISORY_NOW`), for
    every worker to go by the same.

    The caller holds the state's run lock. ConfigError if any shard is invalid (nothing
    sent); AdvisoryError if a worker fails (what it held stays queued). Without a `stop`
    event of the caller's, SIGINT and SIGTERM stop the run the same way.
    """
    loop = asyncio.get_running_loop()
    if stop is None:
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
    count = config.smtp.processes
    workers = []
    for index in range(1, count):
        # Their own session: a Ctrl-C at the terminal reaches this process alone, which
        # stops the workers itself. They validate the very bytes this process read.
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "advisory.run.worker", str(config.path),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            limit=2**24, start_new_session=True,
        )  # fmt: skip
        worker = _Worker(proc)
        order = {"purpose": asdict(purpose), "shard": [index, count], "skew": skew}
        worker.tell(json.dumps(order | {"config": config.raw.decode()}))
        workers.append(worker)
    try:
        return await _supervise(config, store, own, workers, stop, progress)
    finally:
        await _end(workers, grace=2 * config.smtp.timeout + 5)


async def _end(workers: list[_Worker], grace: float) -> None:
    """Let every worker finish what it has in flight and record it; force only the stuck."""
    for worker in workers:
        if worker.proc.stdin is not None:
            worker.proc.stdin.close()
    for worker in workers:
        for signum in (None, signal.SIGTERM, signal.SIGKILL):
            if worker.proc.returncode is not None:
                break
            if signum is not None:
                worker.proc.send_signal(signum)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(worker.proc.wait(), grace if signum is None else 5)


async def _checked(
    config: Config, store: Store, workers: list[_Worker], stop: asyncio.Event
) -> tuple[Roster, list[Advisory]]:
    """Our own shard read, and every worker's word that its shard is valid; else
    ConfigError with every problem (or AdvisoryError if stopped meanwhile)."""
    problems: list[str] = []
    advisories: list[Advisory] = []
    roster = Roster()
    try:  # our own shard, while the workers check theirs
        roster = read_roster(config, Shard(0, len(workers) + 1))
        advisories = known(config, store.publishers)
    except AdvisoryError as e:
        problems += e.problems
    for worker in workers:
        first = await worker.line()
        if first is None and not stop.is_set():
            await worker.proc.wait()
            problems.append(worker.failure())
        elif first is not None:
            problems += [p for p in first.get("problems", ()) if p not in problems]
    if problems or stop.is_set():
        roster.close()
        await _end(workers, grace=5)  # no go: each worker exits without sending
        if problems and not stop.is_set():
            raise ConfigError(problems)
        raise AdvisoryError("stopped before any message was sent; what is due stays due")
    return roster, advisories


async def _supervise(
    config: Config,
    store: Store,
    own_run: One,
    workers: list[_Worker],
    stop: asyncio.Event,
    progress: Progress | None,
) -> Counts:
    roster, advisories = await _checked(config, store, workers, stop)
    for worker in workers:
        worker.tell("go")
    own = Counts()

    def tally(counts: Counts) -> None:
        nonlocal own
        own = counts
        if progress is not None:
            progress(sum((w.progress for w in workers), own))

    async def follow(worker: _Worker) -> None:
        while (message := await worker.line()) is not None:
            if "progress" in message:
                worker.progress = Counts(**message["progress"])
                tally(own)
            elif "error" in message:
                worker.error = message["error"]
            else:
                worker.done = Counts(**message["counts"])
        await worker.proc.wait()

    async def relay_stop() -> None:
        await stop.wait()
        for worker in workers:
            if worker.proc.stdin is not None:
                worker.proc.stdin.close()  # a worker stops when its stdin ends

    watcher = asyncio.create_task(relay_stop())
    try:
        followers = asyncio.gather(*(follow(worker) for worker in workers))
        try:
            own = await own_run(
                roster=roster, advisories=advisories, shard=Shard(0, len(workers) + 1),
                stop=stop, progress=tally,
            )  # fmt: skip
        except BaseException:
            stop.set()  # the workers stop too, and finish what they have in flight
            raise
        finally:
            with contextlib.suppress(Exception):
                await followers
    finally:
        watcher.cancel()
    failed = [w for w in workers if w.done is None]
    if failed:
        raise AdvisoryError(
            f"{failed[0].failure()}; what it had not delivered stays queued for the next run"
        )
    return sum((w.done for w in workers if w.done is not None), own)


def _say(**message: Any) -> None:
    # A parent gone is no reason to stop recording outcomes in the state.
    with contextlib.suppress(BrokenPipeError):
        print(json.dumps(message), flush=True)


def _worker(one: One) -> int:
    """One shard: check it, wait for the word, then run it."""
    line = sys.stdin.readline()
    if not line.endswith("\n"):
        return 0  # the parent went before saying (all of) what to do: nothing to do
    order = json.loads(line)
    purpose = Purpose(**order["purpose"])
    shard = Shard(*order["shard"])
    try:
        config = config_file.load(Path(sys.argv[1]), raw=order["config"].encode())
        roster = read_roster(config, shard)
        with open_store(config.state, readonly=True) as store:
            advisories = known(config, store.publishers)  # as the parent fetched them
    except AdvisoryError as e:
        _say(problems=list(e.problems))
        return e.exit_code
    _say(checked=True)
    if sys.stdin.readline().strip() != "go":
        roster.close()
        return 0  # another shard is invalid, or the run was stopped: nothing sent
    skew = float(order.get("skew", 0.0))
    return loop.run(_run(one, config, purpose, roster, shard, advisories, skew))


async def _run(
    one: One,
    config: Config,
    purpose: Purpose,
    roster: Roster,
    shard: Shard,
    advisories: list[Advisory],
    skew: float,
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

    def progress(counts: Counts) -> None:
        nonlocal last
        if (now := time.monotonic()) - last >= 0.5:
            last = now
            _say(progress=asdict(counts) | {"errors": []})

    try:
        with open_store(config.state) as store:
            counts = await one(
                config, purpose, store, roster=roster, advisories=advisories, shard=shard,
                stop=stop, progress=progress, clock=lambda: time.time() + skew,
            )  # fmt: skip
    except AdvisoryError as e:
        _say(error="; ".join(e.problems))
        return e.exit_code
    counts.errors = [line[:2000] for line in counts.errors]  # a server's reply can be long
    _say(counts=asdict(counts))
    return 0


def _read_some() -> bytes:
    try:
        return os.read(sys.stdin.fileno(), 4096)
    except OSError:
        return b""


def main(one: One) -> None:
    """A worker process: its shard, run by `one`."""
    # The parent decides when to stop: a Ctrl-C to the process group is its to handle.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(_worker(one))

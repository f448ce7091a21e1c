"""`advisory serve` as a subprocess, and waiting on what it does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from support.project import Project


def wait_for(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@contextmanager
def serving(
    project: Project, *args: str, env: dict[str, str] | None = None, config: Path | None = None
) -> Iterator[subprocess.Popen[str]]:
    """`advisory serve` on the project's config (or another `config` of its)."""
    argv = [sys.executable, "-m", "advisory", "serve", "--config", str(config or project.config),
            *args]  # fmt: skip
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ADVISORY_")}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=full_env | (env or {}))  # fmt: skip
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def stop(proc: subprocess.Popen[str], signum: int = signal.SIGTERM) -> tuple[int, str]:
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)
    return proc.returncode, err

"""SIGKILL at any point of a run: the next run delivers exactly what is left.

The one window where a copy can arrive twice: the server accepted the message and the
process died before the outbox recorded it. With one connection that is at most one
message per kill.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable

import pytest
from support.project import Project, many, run_cli, smtp_section
from support.smtp import Server

N = 8


def queued_rows(project: Project) -> int:
    try:
        with sqlite3.connect(project.state) as db:
            return int(db.execute("SELECT count(*) FROM messages").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


KILL_POINTS: list[tuple[str, Callable[[Project, Server], bool]]] = [
    ("before any delivery", lambda p, s: queued_rows(p) == N and not s.handler.received),
    ("during deliveries", lambda p, s: len(s.handler.received) >= 3),
    ("after the last acceptance", lambda p, s: len(s.handler.received) >= N),
]


@pytest.mark.parametrize(("point", "ready"), KILL_POINTS, ids=[p for p, _ in KILL_POINTS])
def test_sigkill_then_rerun_delivers_everyone_once(
    project: Project, smtpd: Server, point: str, ready: Callable[[Project, Server], bool]
) -> None:
    smtpd.handler.delay = 0.2
    many(project, N, smtp_section(smtpd, connections="1"))
    argv = [sys.executable, "-m", "advisory", "send", "--config", str(project.config)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not ready(project, smtpd) and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    with sqlite3.connect(project.state) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    smtpd.handler.delay = 0
    rerun = run_cli("send", config=project.config)
    assert rerun.returncode == 0, rerun.stderr
    assert run_cli("send", config=project.config).stdout.startswith("nothing due")

    copies = Counter(r.message["Message-ID"] for r in smtpd.handler.received)
    assert len(copies) == N  # everyone has the alert
    assert sum(copies.values()) - N <= 1  # and at most the one in the window twice

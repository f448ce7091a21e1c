"""Several `advisory send` processes on one PostgreSQL state: each message sent once, by
the process that claimed it; a process killed leaves its claims for the others after
the lease, and at most what it had in flight arrives twice."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter

import psycopg
from support.project import Project, many, run_cli, smtp_section
from support.smtp import Server

from advisory.domain.urls import Database

N = 1000


def on_server(project: Project, database: Database, smtp: str, *, lease: str = "2m") -> None:
    """N readers of the Venezuela advisory, their state in `database`."""
    many(project, N, smtp)
    text = project.config.read_text()
    project.config.write_text(
        text.replace('state = "state.sqlite3"', f'state = "{database.url}"\nlease = "{lease}"')
    )


def start_sends(project: Project, count: int) -> list[subprocess.Popen[str]]:
    argv = [sys.executable, "-m", "advisory", "send", "--config", str(project.config)]
    return [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(count)]  # fmt: skip


def delivered(out: str) -> int:
    """What a run's summary says it delivered."""
    for part in out.replace(";", ",").split(","):
        if part.strip().startswith("delivered "):
            return int(part.split()[1])
    return 0


def test_three_processes_at_once_deliver_each_of_a_thousand_messages_once(
    project: Project, smtpd: Server, postgresql: Database
) -> None:
    smtpd.handler.delay = 0.005  # a server slow enough for the runs to overlap
    on_server(project, postgresql, smtp_section(smtpd, connections="4"))
    outputs = [proc.communicate(timeout=120) for proc in start_sends(project, 3)]
    for _, err in outputs:
        assert "Traceback" not in err, err
    copies = Counter(r.message["Message-ID"] for r in smtpd.handler.received)
    assert len(copies) == N and set(copies.values()) == {1}  # everyone once
    shares = [delivered(out) for out, _ in outputs]
    assert sum(shares) == N
    assert sum(share > 0 for share in shares) >= 2, outputs  # the work was shared
    assert run_cli("send", config=project.config).stdout.startswith("nothing due")


def claims_of(database: Database, pid: int) -> set[str]:
    """The messages process `pid` holds, still queued."""
    with psycopg.connect(database.url) as db:
        try:
            rows = db.execute(
                "SELECT key FROM messages WHERE status = 'queued' AND claimed_by LIKE %s",
                (f"%:{pid}:%",),
            )
        except psycopg.errors.UndefinedTable:  # not made yet: the runs are starting
            return set()
        return {key for (key,) in rows}


def test_a_process_killed_mid_run_leaves_its_claims_to_the_others_after_the_lease(
    project: Project, smtpd: Server, postgresql: Database
) -> None:
    smtpd.handler.delay = 0.01
    on_server(project, postgresql, smtp_section(smtpd, connections="4"), lease="2s")
    procs = start_sends(project, 3)
    victim = procs[0]
    deadline = time.monotonic() + 60
    while not claims_of(postgresql, victim.pid) or len(smtpd.handler.received) < 100:
        assert time.monotonic() < deadline and victim.poll() is None
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)
    victim.communicate()
    in_flight = claims_of(postgresql, victim.pid)  # claimed, and never recorded
    assert in_flight

    for proc in procs[1:]:  # the others finish their runs
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    time.sleep(2.5)  # the lease of the one killed runs out
    rerun = run_cli("send", config=project.config)
    assert rerun.returncode == 0, rerun.stderr
    assert delivered(rerun.stdout) > 0  # its claims came back

    # (a message's key is its Message-ID's local part)
    copies = Counter(r.message["Message-ID"].strip("<>").partition("@")[0]
                     for r in smtpd.handler.received)  # fmt: skip
    assert len(copies) == N  # everyone has the alert
    twice = {key for key, n in copies.items() if n > 1}
    assert twice <= in_flight  # what arrived twice is what it had in flight
    assert all(n <= 2 for n in copies.values())
    assert run_cli("send", config=project.config).stdout.startswith("nothing due")

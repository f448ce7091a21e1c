"""A state on PostgreSQL when the server is out of reach, refuses the login, holds another
program's tables, or restarts during a run: one line naming service.state, the right
exit code, nothing sent that is not recorded, no password in any output; the next run
resumes."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter

import psycopg
import pytest
from support.postgres import PrivateServer
from support.project import Project, many, smtp_section
from support.smtp import Server

from advisory.domain.urls import Database


def state_at(project: Project, url: str, n: int, smtp: str, lease: str = "2m") -> None:
    many(project, n, smtp)
    text = project.config.read_text()
    service = f'state = "{url}"\nlease = "{lease}"'
    project.config.write_text(text.replace('state = "state.sqlite3"', service))


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_a_server_out_of_reach_is_one_line_and_nothing_is_sent(
    project: Project, smtpd: Server, private_postgresql: PrivateServer
) -> None:
    closed = private_postgresql.url().replace(str(private_postgresql.port), "1")
    state_at(project, closed, 3, smtp_section(smtpd))
    result = project.run("send")
    assert result.returncode == 1
    line = one_line(result)
    assert line.startswith("service.state (postgresql://advisory@127.0.0.1:1/postgres)")
    assert "cannot reach the server" in line
    assert not smtpd.handler.received


def test_a_wrong_password_is_refused_and_the_right_one_never_shown(
    project: Project, smtpd: Server, private_postgresql: PrivateServer
) -> None:
    server = private_postgresql
    with psycopg.connect(server.url(), password=server.PASSWORD, autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS secrets_test")
        admin.execute("CREATE DATABASE secrets_test")
    state_at(project, server.url("secrets_test"), 3, smtp_section(smtpd))
    wrong = project.run("send", env={"ADVISORY_STATE_PASSWORD": "Wrong-pa55word"})
    assert wrong.returncode == 2
    assert "the server refused" in one_line(wrong) and "password authentication" in wrong.stderr
    assert "Wrong-pa55word" not in wrong.stdout + wrong.stderr
    assert not smtpd.handler.received

    right = project.run("send", env={"ADVISORY_STATE_PASSWORD": server.PASSWORD})
    assert right.returncode == 0, right.stderr
    assert len(smtpd.handler.received) == 3
    status = project.run("status", env={"ADVISORY_STATE_PASSWORD": server.PASSWORD})
    assert "sent 3" in status.stdout
    for output in (right, status):
        assert server.PASSWORD not in output.stdout + output.stderr


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://advisory:Hunter2-pa55@127.0.0.1:5432/x",
        "postgresql://advisory@127.0.0.1/x?password=Hunter2-pa55",
    ],
)
def test_a_password_in_the_url_is_refused_before_anything_is_read(
    project: Project, smtpd: Server, url: str
) -> None:
    state_at(project, url, 3, smtp_section(smtpd))
    result = project.run("send")
    assert result.returncode == 2
    line = one_line(result)
    assert "service.state" in line and "password" in line and "Hunter2" not in line
    assert not smtpd.handler.received


def test_a_database_of_another_program_is_refused_and_left_as_it_was(
    project: Project, smtpd: Server, postgresql: Database
) -> None:
    with psycopg.connect(postgresql.url, autocommit=True) as db:
        db.execute("CREATE TABLE invoices (id int PRIMARY KEY, total numeric)")
    state_at(project, postgresql.url, 3, smtp_section(smtpd))
    for command in ("send", "status", "check"):
        result = project.run(command)
        assert result.returncode == 2, (command, result.stdout)
        assert "holds tables of another program (invoices)" in one_line(result)
    with psycopg.connect(postgresql.url) as db:
        tables = db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        assert [t for (t,) in tables] == ["invoices"]
    assert not smtpd.handler.received


def test_a_server_restarted_during_a_run_loses_nothing_and_the_next_run_resumes(
    project: Project, smtpd: Server, private_postgresql: PrivateServer
) -> None:
    server, n = private_postgresql, 300
    with psycopg.connect(server.url(), password=server.PASSWORD, autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS restarted")
        admin.execute("CREATE DATABASE restarted")
    url = server.url("restarted")
    smtpd.handler.delay = 0.01
    state_at(project, url, n, smtp_section(smtpd, connections="2"), lease="2s")
    env = {"ADVISORY_STATE_PASSWORD": server.PASSWORD}
    argv = [sys.executable, "-m", "advisory", "send", "--config", str(project.config)]
    run = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={"PATH": "/usr/bin:/bin", **env})  # fmt: skip
    deadline = time.monotonic() + 60
    while len(smtpd.handler.received) < 50:
        assert time.monotonic() < deadline and run.poll() is None
        time.sleep(0.01)
    server.stop()
    try:
        out, err = run.communicate(timeout=60)
    finally:
        server.start()
    assert run.returncode == 1, out + err
    assert err.startswith(f"service.state ({url}): cannot reach the server"), err
    assert "Traceback" not in err and server.PASSWORD not in out + err
    with psycopg.connect(url, password=server.PASSWORD) as db:
        unrecorded = {key for (key,) in db.execute(
            "SELECT key FROM messages WHERE status = 'queued'")}  # fmt: skip
    time.sleep(2.5)  # what it held (it could not say it let go) is free after the lease
    again = project.run("send", env=env)
    assert again.returncode == 0, again.stderr
    copies = Counter(r.message["Message-ID"].strip("<>").partition("@")[0]
                     for r in smtpd.handler.received)  # fmt: skip
    assert len(copies) == n  # everyone has the alert
    assert {key for key, count in copies.items() if count > 1} <= unrecorded
    assert project.run("send", env=env).stdout.startswith("nothing due")


@pytest.mark.parametrize("command", [("check",), ("send", "--dry-run"), ("status",)])
def test_reading_an_empty_database_writes_nothing(
    project: Project, smtpd: Server, postgresql: Database, command: tuple[str, ...]
) -> None:
    state_at(project, postgresql.url, 3, smtp_section(smtpd))
    result = project.run(*command)
    assert result.returncode == 0, result.stderr
    with psycopg.connect(postgresql.url) as db:
        listed = db.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        assert listed.fetchone() == (0,)


def test_state_init_makes_the_tables_once_and_never_over_a_state(
    project: Project, smtpd: Server, postgresql: Database
) -> None:
    state_at(project, postgresql.url, 3, smtp_section(smtpd))
    made = project.run("state", "init")
    assert made.returncode == 0, made.stderr
    empty = project.run("status").stdout.splitlines()[1]
    assert empty == "sent 0 · queued 0 · failed 0 · cancelled 0"
    assert project.run("send").returncode == 0
    again = project.run("state", "init")
    assert again.returncode == 2
    assert one_line(again) == f"service.state ({postgresql.url}): holds a state; not replaced"
    assert "sent 3" in project.run("status").stdout

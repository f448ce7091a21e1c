"""`advisory state migrate --to URL`: a state file's history, versions, suppressions and
acknowledgements carried into PostgreSQL, where the service goes on as if nothing
moved; a database that holds anything is refused."""

from __future__ import annotations

import psycopg
from support.duty import DESK, SECRET, TRAVELLERS
from support.project import Project, config_text, smtp_section
from support.smtp import Server

from advisory.domain.urls import Database

AT = "2026-12-03T09:00:00Z"


def test_a_state_file_moves_into_postgresql_and_the_service_goes_on(
    project: Project, smtpd: Server, postgresql: Database
) -> None:
    project.write_config(config_text(delivery='transport = "smtp"', smtp=smtp_section(smtpd),
                                     subscribers=TRAVELLERS) + DESK)  # fmt: skip
    env = SECRET | {"ADVISORY_NOW": AT}
    assert project.run("send", env=env).returncode == 0
    assert project.run("ack", "tara@example.org", "--country", "VE", env=env).returncode == 0
    assert project.run("suppress", "home@example.org", env=env).returncode == 0
    sent = len(smtpd.handler.received)
    before = {cmd: project.run(cmd, env=env).stdout for cmd in ("acks", "suppressions")}
    status = project.run("status", env=env).stdout.splitlines()[1:]  # (after the state's name)

    moved = project.run("state", "migrate", "--to", postgresql.url, env=env)
    assert moved.returncode == 0, moved.stderr
    assert "copied" in moved.stdout and "2 acknowledgements" not in moved.stdout
    assert "1 acknowledgement" in moved.stdout and "1 suppression" in moved.stdout
    project.write_config(project.config.read_text().replace(
        'state = "state.sqlite3"', f'state = "{postgresql.url}"'))  # fmt: skip

    after = {cmd: project.run(cmd, env=env).stdout for cmd in ("acks", "suppressions")}
    assert after == before
    assert project.run("status", env=env).stdout.splitlines()[1:] == status
    again = project.run("send", env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("nothing due")
    assert len(smtpd.handler.received) == sent  # nobody told twice

    # Half an hour on, the desk hears of those who did not confirm: not of Tara.
    late = project.run("send", env=SECRET | {"ADVISORY_NOW": "2026-12-03T09:31:00Z"})
    assert late.returncode == 0, late.stderr
    desk = [r.message for r in smtpd.handler.received[sent:] if r.rcpt_tos == ["duty@example.org"]]
    assert desk, late.stdout
    told = "".join(str(m.get_body(("plain",)).get_content()) for m in desk)  # type: ignore[union-attr]
    assert "ted@example.org" in told and "tara@example.org" not in told.split("Confirmed")[0]


def test_a_database_that_holds_anything_is_refused(
    project: Project, smtpd: Server, postgresql: Database
) -> None:
    project.write_config(config_text(delivery='transport = "smtp"', smtp=smtp_section(smtpd)))
    assert project.run("send").returncode == 0
    assert project.run("state", "migrate", "--to", postgresql.url).returncode == 0
    with psycopg.connect(postgresql.url) as db:
        held = db.execute("SELECT count(*) FROM messages").fetchone()
    again = project.run("state", "migrate", "--to", postgresql.url)
    assert again.returncode == 2
    assert again.stderr.strip() == (
        f"service.state ({postgresql.url}): is not empty (it has advisory_versions); "
        "the copy goes into an empty database only"
    )
    with psycopg.connect(postgresql.url) as db:
        assert db.execute("SELECT count(*) FROM messages").fetchone() == held
    bad = project.run("state", "migrate", "--to", "mysql://x")
    assert (bad.returncode, bad.stderr.strip()) == (2, "--to: expected a postgresql:// URL")

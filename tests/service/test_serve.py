"""`advisory serve` as a subprocess: scheduled checks, alerts on change, clean stop on signals."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sqlite3
import time
from collections import Counter
from pathlib import Path

from support.project import ROOT, VE, Project, body, config_text, many, run_cli, smtp_section
from support.serve import serving, stop, wait_for
from support.smtp import Server

from advisory.domain.schedule import digest_period
from advisory.inputs import config as config_file
from advisory.run.plan import Purpose
from advisory.run.run import run
from advisory.state import open_store


def test_an_edited_advisory_reaches_exactly_those_concerned(
    smtp_project: Project, smtpd: Server
) -> None:
    got = smtpd.handler.received
    level3 = VE.replace("level = 4", "level = 3").replace('["detention"]', '["crime"]')
    smtp_project.advisory("ve", level3)
    with serving(smtp_project, "--check-every", "0.5") as proc:
        # First check at start: VE level 3 to Ana and Ben, CO to Ben; the pager wants level 4.
        wait_for(lambda: len(got) == 3)
        smtp_project.advisory("ve", VE.replace('["detention"]', '["crime", "detention"]'))
        wait_for(lambda: len(got) == 6)
        time.sleep(1.2)  # two more checks: nothing more is sent
        code, err = stop(proc)
    assert code == 0, err
    assert len(got) == 6
    later = {r.rcpt_tos[0]: r.message for r in got[3:]}
    assert set(later) == {"ana@example.org", "ben@example.org", "pager@example.org"}
    assert smtpd.handler.to("chloe@example.org") == []
    for rcpt in ("ana@example.org", "ben@example.org"):
        text = body(later[rcpt])
        assert "Level raised from 3 (Reconsider travel) to 4 (Do not travel)." in text
        assert "Risks added: Arbitrary or wrongful detention." in text
    assert "Level raised from 3" in body(later["ana@example.org"], "html")
    assert later["pager@example.org"].get_content().startswith("VENEZUELA L4 DO NOT TRAVEL")
    runs = [line for line in err.splitlines() if " check: due " in line]
    assert len(runs) >= 4
    assert "stopped: 0 messages queued for the next run" in err


def test_sigterm_during_slow_delivery_finishes_in_flight_and_keeps_the_rest(
    project: Project, smtpd: Server
) -> None:
    smtpd.handler.delay = 1.0
    many(project, 6, smtp_section(smtpd, connections="1"))
    got = smtpd.handler.received
    with serving(project, "--check-every", "60") as proc:
        wait_for(lambda: len(got) >= 1)
        started = time.monotonic()
        code, err = stop(proc)
    assert code == 0, err
    assert time.monotonic() - started < 5  # one in-flight message, not the five left
    sent_before = len(got)
    assert sent_before == 2  # the one in flight at SIGTERM was finished
    assert f"stopped: {6 - sent_before} messages queued for the next run" in err
    with sqlite3.connect(project.state) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    smtpd.handler.delay = 0
    rest = run_cli("send", config=project.config)
    assert rest.returncode == 0, rest.stderr
    assert f"due {6 - sent_before}, delivered {6 - sent_before}" in rest.stdout
    ids = Counter(r.message["Message-ID"] for r in got)
    assert len(ids) == 6 and set(ids.values()) == {1}


def test_a_second_signal_exits_at_once_and_the_state_file_stays_valid(
    project: Project, smtpd: Server
) -> None:
    smtpd.handler.delay = 3.0
    many(project, 3, smtp_section(smtpd, connections="1"))
    with serving(project, "--check-every", "60") as proc:
        wait_for(lambda: project.state.exists() and b"queued" in _statuses(project))
        time.sleep(0.3)  # the first message is in flight
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        started = time.monotonic()
        code, err = stop(proc, signal.SIGINT)
    assert time.monotonic() - started < 2
    assert code == 1, err
    assert "second signal" in err
    with sqlite3.connect(project.state) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    smtpd.handler.delay = 0
    assert run_cli("send", config=project.config).returncode == 0
    # Each person has the alert; one may have it twice: the message in flight when the
    # process died may have been accepted without being recorded (the documented window).
    recipients = Counter(r.rcpt_tos[0] for r in smtpd.handler.received)
    assert set(recipients) == {f"p{i}@example.org" for i in range(3)}
    assert sum(recipients.values()) <= 4


def _statuses(project: Project) -> bytes:
    """Every message's status, as the service has them now (nothing while it starts)."""
    try:
        with sqlite3.connect(project.state) as db:
            return b" ".join(row[0].encode() for row in db.execute("SELECT status FROM messages"))
    except sqlite3.OperationalError:
        return b""


def test_json_logs_one_line_per_run(project: Project) -> None:
    with serving(project, "--check-every", "0.3", "--log-format", "json") as proc:
        wait_for(
            lambda: (
                (project.outbox / "new").is_dir()
                and len(list((project.outbox / "new").iterdir())) == 4
            )
        )
        time.sleep(1.2)
        code, err = stop(proc)
    assert code == 0
    events = [json.loads(line) for line in err.splitlines()]
    checks = [e for e in events if e["event"] == "check"]
    assert checks[0]["due"] == 4 and checks[0]["delivered"] == 4 and checks[0]["failed"] == 0
    assert all(c["due"] == 0 and c["already_sent"] == 4 for c in checks[1:])
    # The second plans the list and finds nothing due; the rest find nothing changed.
    assert [c["unchanged"] for c in checks[:3]] == [False, False, True], checks
    assert all(c["unchanged"] for c in checks[2:])
    assert len(checks) >= 2 and all("seconds" in c for c in checks)
    assert events[-1]["event"] == "stopped"


def test_invalid_config_refuses_to_start(project: Project) -> None:
    project.write_config(config_text().replace('timezone = "UTC"', 'timezone = "Nowhere/City"'))
    result = run_cli("serve", config=project.config)
    assert result.returncode == 2
    assert result.stderr == (
        f"{project.config}: service.timezone: not a known time zone (e.g. UTC, Europe/Madrid)\n"
    )


def test_an_invalid_advisory_edit_is_logged_and_the_service_goes_on(project: Project) -> None:
    with serving(project, "--check-every", "0.3") as proc:
        wait_for(lambda: project.state.exists() and _statuses(project).count(b"sent") == 4)
        broken = project.advisory("ve", VE.replace("level = 4", "level = 9"))
        time.sleep(0.8)
        project.advisory("ve", VE.replace("Foreigners risk arbitrary arrest.", "Leave now."))
        wait_for(lambda: _statuses(project).count(b"sent") == 7)
        code, err = stop(proc)
    assert code == 0
    assert f"error: check: {broken}: level: expected 1, 2, 3 or 4" in err


def test_a_bad_row_added_while_serving_holds_back_the_whole_run(
    project: Project, smtpd: Server
) -> None:
    # Enough readers to fill the delivery queue before the bad row is read: without a
    # check first, the first two thousand would get the raised advisory, the rest not.
    project.advisory("ve", VE.replace("level = 4", "level = 1"))
    many(project, 2100, smtp_section(smtpd, connections="4"))
    people = project.root / "people.csv"
    good = people.read_text().replace(",VE,1,", ",VE,4,")  # level 4 only: nothing due yet
    people.write_text(good)
    got = smtpd.handler.received
    with serving(project, "--check-every", "0.3") as proc:
        wait_for(lambda: " check: due 0" in (proc.stderr.readline() if proc.stderr else ""))
        people.write_text(good + "Bad Row,not-an-address,VE,4,text\n")
        project.advisory("ve", VE)
        time.sleep(1.5)
        assert got == []  # nobody was sent the raised advisory
        people.write_text(good)
        wait_for(lambda: len(got) == 2100, timeout=60)
        code, err = stop(proc)
    assert code == 0, err
    assert f"error: check: {people}:2102: email: not a valid email address" in err
    assert len({r.rcpt_tos[0] for r in got}) == 2100


def test_a_restart_across_the_digest_time_sends_that_periods_digest(
    smtp_project: Project, smtpd: Server
) -> None:
    """The service sent last week's digest, then was down when this week's was due."""
    weekly = "0 8 * * MON"
    smtp_project.config.write_text(
        smtp_project.config.read_text() + f'\n[schedule]\ndigest = "{weekly}"\n'
    )
    config = config_file.load(smtp_project.config)
    a_week_ago = time.time() - 7 * 86400
    last_week = Purpose("digest", periods={"digest": digest_period(weekly, "UTC", a_week_ago)})
    with open_store(config.service.state) as store:
        asyncio.run(run(config, last_week, store, clock=lambda: a_week_ago))
    got = smtpd.handler.received

    def digests() -> int:
        return sum(r.message["Subject"].startswith("Travel advisories") for r in got)

    assert (len(got), digests()) == (3, 3)
    with serving(smtp_project, "--check-every", "60") as proc:
        wait_for(lambda: digests() == 6 and len(got) == 3 + 4 + 3)  # the alerts, and this week's
        code, err = stop(proc)
    assert code == 0, err
    with serving(smtp_project, "--check-every", "60") as proc:  # restarted again: nothing more
        wait_for(lambda: " digest: due " in (proc.stderr.readline() if proc.stderr else ""))
        code, err = stop(proc)
    assert code == 0, err
    assert len(got) == 10


def test_serve_sends_each_digest_reader_their_period_and_a_restart_nothing_more(
    project: Project, smtpd: Server
) -> None:
    """The daily and weekly digests are due at start for the period the service comes up
    in (as after a restart across their time); the check sends their readers nothing."""
    readers = "".join(
        f'[[subscribers]]\nname = "{who}"\nemail = "{who}@example.org"\n'
        f'countries = ["VE", "CO"]\nfrequency = "{how}"\n\n'
        for who, how in (("ivo", "immediate"), ("dora", "daily"), ("walt", "weekly"))
    )
    project.write_config(
        config_text(delivery='transport = "smtp"', smtp=smtp_section(smtpd), subscribers=readers)
    )
    got = smtpd.handler.received
    with serving(project, "--check-every", "60") as proc:
        wait_for(lambda: len(got) == 4)  # Ivo's two alerts, one digest each for the others
        code, err = stop(proc)
    assert code == 0, err
    for who in ("dora", "walt"):
        [digest] = smtpd.handler.to(f"{who}@example.org")
        assert digest["Subject"] == "Travel advisory updates: Venezuela L4, Colombia L2"
    assert " daily: due 1, delivered 1" in err and " weekly: due 1, delivered 1" in err
    with serving(project, "--check-every", "60") as proc:
        wait_for(lambda: " weekly: due " in (proc.stderr.readline() if proc.stderr else ""))
        code, err = stop(proc)
    assert code == 0, err
    assert len(got) == 4


def test_systemd_hears_ready_then_stopping_over_its_socket(
    smtp_project: Project, smtpd: Server, tmp_path: Path
) -> None:
    """`Type=notify`: a real datagram socket where $NOTIFY_SOCKET points."""
    where = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(str(where))
        systemd.settimeout(20)
        with serving(
            smtp_project, "--check-every", "60", env={"NOTIFY_SOCKET": str(where)}
        ) as proc:
            assert systemd.recv(4096) == b"READY=1"
            wait_for(lambda: len(smtpd.handler.received) == 4)
            proc.send_signal(signal.SIGTERM)
            assert systemd.recv(4096) == b"STOPPING=1"
            _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    unit = (ROOT / "contrib" / "advisory.service").read_text()
    assert "Type=notify" in unit and "advisory serve" in unit

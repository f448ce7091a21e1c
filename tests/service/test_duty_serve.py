"""Duty of care in a real `advisory serve` subprocess, with its web endpoint and a real
SMTP server, `after` at ten seconds: three travellers, one confirms on the page (POST),
one only opens it (GET), one is confirmed by phone while `serve` runs; exactly one
reminder and one escalation, naming the right one, across a kill -9 of `serve` between
the escalation's queueing and its delivery."""

from __future__ import annotations

import re
import signal
import sqlite3
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families
from support.duty import SECRET, on_trips
from support.project import VE, Project, body, config_text, run_cli, smtp_section
from support.serve import serving, stop, wait_for
from support.smtp import Server, free_port

TRAVELLERS = on_trips("Ana", "Ben", "Cy")


def configure(project: Project, smtpd: Server, port: int) -> None:
    project.advisory("ve", VE)
    project.write_config(
        config_text(delivery='transport = "smtp"', smtp=smtp_section(smtpd),
                    subscribers=TRAVELLERS)
        + f'\n[http]\nlisten = "127.0.0.1:{port}"\npublic_url = "http://127.0.0.1:{port}"\n'
        + '\n[escalation]\nafter = "10s"\ndesk = "duty@example.org"\n'
    )  # fmt: skip


def link(smtpd: Server, address: str) -> str:
    found = re.search(r"http://127\.0\.0\.1:\d+/ack/[A-Za-z0-9_-]{22}",
                      body(smtpd.handler.to(address)[0], "html"))  # fmt: skip
    assert found is not None
    return found.group(0)


def queued_escalations(project: Project) -> int:
    with sqlite3.connect(project.state) as db:
        rows = db.execute("SELECT count(*) FROM messages WHERE kind = 'escalation'")
        return int(rows.fetchone()[0])


def test_one_reminder_and_one_escalation_of_the_right_traveller_across_a_kill(
    project: Project, smtpd: Server
) -> None:
    port = free_port()
    configure(project, smtpd, port)
    site = f"http://127.0.0.1:{port}"
    with serving(project, "--check-every", "1", env=SECRET) as proc:
        wait_for(lambda: len(smtpd.handler.to("duty@example.org")) == 1)  # the summary
        wait_for(lambda: httpx.get(f"{site}/healthz").status_code == 200)
        ana, ben = link(smtpd, "ana@example.org"), link(smtpd, "ben@example.org")
        done = httpx.post(ana, data={})
        assert done.status_code == 200 and "you have confirmed" in done.text
        opened = httpx.get(ben)  # a look, or a mail scanner: no confirmation
        assert opened.status_code == 200 and "I have read this" in opened.text
        phoned = run_cli("ack", "cy@example.org", "--country", "VE", config=project.config)
        assert phoned.returncode == 0, phoned.stderr
        smtpd.handler.hold = {"duty@example.org"}  # the escalation hangs in DATA
        wait_for(lambda: "duty@example.org" in smtpd.handler.held, timeout=40)
        wait_for(lambda: len(smtpd.handler.to("ben@example.org")) == 2)  # the reminder
        time.sleep(0.5)  # its outcome is written (within 50 ms)
        assert queued_escalations(project) == 1
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    smtpd.handler.hold = set()
    with serving(project, "--check-every", "1", env=SECRET) as proc:
        wait_for(lambda: len(smtpd.handler.to("duty@example.org")) == 2)
        time.sleep(1.5)  # more escalation passes and checks: nothing more
        code, err = stop(proc)
    assert code == 0, err
    assert "Traceback" not in err
    assert [len(smtpd.handler.to(f"{n}@example.org")) for n in ("ana", "ben", "cy")] == [1, 2, 1]
    assert smtpd.handler.to("ben@example.org")[1]["Subject"].startswith("Reminder")
    [_, escalation] = smtpd.handler.to("duty@example.org")
    assert (
        escalation["Subject"] == "Not confirmed: 1 traveller in Venezuela, Level 4 – Do not travel"
    )
    listed, since = body(escalation).split("Confirmed since")
    assert "Ben <ben@example.org>" in listed and "reminded" in listed
    assert "Ana" not in listed and "Cy" not in listed
    assert "Ana <ana@example.org>" in since and "on the web page" in since
    assert "Cy <cy@example.org>" in since and "by phone" in since
    pending = run_cli("acks", "--pending", "--format", "csv", config=project.config).stdout
    assert pending.splitlines()[1].startswith("Ben,ben@example.org,VE,VE,")
    assert len(pending.splitlines()) == 2


def test_a_forged_or_altered_acknowledgement_link_changes_nothing(
    project: Project, smtpd: Server
) -> None:
    port = free_port()
    configure(project, smtpd, port)
    with serving(project, "--check-every", "60", env=SECRET) as proc:
        wait_for(lambda: len(smtpd.handler.to("duty@example.org")) == 1)
        ana = link(smtpd, "ana@example.org")
        for url in (ana[:-1] + ("A" if ana[-1] != "A" else "B"), ana[:-2],
                    ana.replace("/ack/", "/a/")[:-1] + "x",
                    f"http://127.0.0.1:{port}/ack/{'x' * 22}"):  # fmt: skip
            assert httpx.post(url).status_code == 404
            assert httpx.get(url).status_code == 404
        short = ana.replace("/ack/", "/a/")  # the alert's short form is the same page
        assert "I have read this" in httpx.get(short).text
        assert httpx.post(short).status_code == 200
        assert "you have confirmed" in httpx.post(ana).text  # again: kept as it was
        samples = {s.labels["answer"]: s.value for family in text_string_to_metric_families(
            httpx.get(f"http://127.0.0.1:{port}/metrics").text) for s in family.samples
            if s.name == "advisory_acknowledgements"}  # fmt: skip
        assert samples == {"confirmed": 1, "pending": 2}
        code, err = stop(proc)
    assert code == 0, err
    rows = run_cli("acks", "--format", "csv", config=project.config).stdout.splitlines()
    confirmed = [row.split(",")[1] for row in rows[1:] if row.endswith(",web")]
    assert confirmed == ["ana@example.org"]
    project.advisory("ve", VE.replace("Foreigners risk", "Visitors risk"))  # a new version
    assert run_cli("send", config=project.config, env=SECRET).returncode == 0
    rows = run_cli("acks", "--pending", "--format", "csv", config=project.config).stdout
    assert "ana@example.org" in rows  # the new version asks her afresh

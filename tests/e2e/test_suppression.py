"""The suppression list, as an operator and a mail server use it: `suppress`,
`unsuppress` and `suppressions` in subprocesses, a send to a real SMTP server that skips
whoever is on it, and an address refused as unknown put on it by the send itself."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, datetime, timedelta

from support.project import VE, Project, run_cli
from support.smtp import Server

from advisory.state import open_store


def test_a_suppressed_reader_receives_nothing_until_lifted_then_only_whats_due(
    smtp_project: Project, smtpd: Server
) -> None:
    done = smtp_project.run("suppress", "ANA@example.org", "--reason", "asked by phone")
    assert (done.returncode, done.stdout) == (0, "ana@example.org: suppressed\n")
    assert smtp_project.run("suppress", "ana@example.org").stdout == (
        "ana@example.org: was already suppressed\n"
    )
    result = smtp_project.run("send")
    assert "due 3, delivered 3, failed 0; 1 suppressed" in result.stdout
    assert smtpd.handler.to("ana@example.org") == []
    # Two changes while she is suppressed: when she is back, the one in force, once.
    smtp_project.advisory("ve", VE.replace("level = 4", "level = 3"))
    smtp_project.run("send")
    smtp_project.advisory("ve", VE.replace("Foreigners risk", "Visitors risk"))
    smtp_project.run("send")
    lifted = smtp_project.run("unsuppress", "ana@example.org")
    assert lifted.stdout == "ana@example.org: no longer suppressed\n"
    assert "due 1, delivered 1" in smtp_project.run("send").stdout
    [ana] = smtpd.handler.to("ana@example.org")
    assert ana["Subject"] == "Venezuela travel advisory: Level 4 – Do not travel"
    assert smtp_project.run("unsuppress", "ana@example.org").stdout == (
        "ana@example.org: was not suppressed\n"
    )


def test_the_list_is_shown_in_three_formats_and_bad_addresses_are_refused(
    project: Project,
) -> None:
    project.run("suppress", "ben@example.org", "--reason", "left the company")
    project.run("suppress", "chloe@example.org")
    table = project.run("suppressions").stdout.splitlines()
    assert table[0].split() == ["ADDRESS", "REASON", "SINCE", "DETAIL"]
    assert table[1].split()[:2] == ["ben@example.org", "operator"]
    assert table[1].endswith("left the company") and table[-1] == "2 addresses suppressed"
    rows = list(csv.DictReader(io.StringIO(project.run("suppressions", "--format", "csv").stdout)))
    assert [(r["address"], r["reason"], r["detail"]) for r in rows] == [
        ("ben@example.org", "operator", "left the company"),
        ("chloe@example.org", "operator", ""),
    ]
    listed = json.loads(project.run("suppressions", "--format", "json").stdout)
    assert [set(row) for row in listed] == [{"address", "reason", "since", "detail"}] * 2
    bad = project.run("suppress", "not-an-address")
    assert (bad.returncode, bad.stderr) == (2, "'not-an-address': not a valid email address\n")


def test_the_list_is_changed_while_a_run_holds_the_state(project: Project) -> None:
    """The commands never wait for a run's lock: a click or an operator is not held up
    by a long send."""
    assert project.run("send").returncode == 0
    with open_store(project.state) as store:
        store.acquire()
        try:
            started = time.monotonic()
            done = run_cli("suppress", "ben@example.org", config=project.config)
            assert done.returncode == 0 and time.monotonic() - started < 10
        finally:
            store.release()
    assert "ben@example.org" in project.run("suppressions").stdout


def test_an_address_refused_as_unknown_is_suppressed_as_bounced(
    smtp_project: Project, smtpd: Server
) -> None:
    smtpd.handler.refuse["pager@example.org"] = "550 5.1.1 No such mailbox"
    assert smtp_project.run("send").returncode == 1
    [row] = json.loads(smtp_project.run("suppressions", "--format", "json").stdout)
    assert (row["address"], row["reason"]) == ("pager@example.org", "bounced")
    assert row["detail"] == "delivery failed: 550 5.1.1 No such mailbox"
    smtpd.handler.refuse.clear()
    smtp_project.advisory("ve", VE.replace("level = 4", "level = 3"))
    smtp_project.write_config(
        smtp_project.config.read_text().replace("min_level = 4", "min_level = 1")
    )
    again = smtp_project.run("send")
    assert "1 suppressed" in again.stdout
    assert smtpd.handler.to("pager@example.org") == []


def test_a_refusal_of_our_sender_or_after_the_data_suppresses_nobody(
    smtp_project: Project, smtpd: Server
) -> None:
    smtpd.handler.refuse["pager@example.org"] = (
        "553 5.1.8 <advisories@example.org>: Sender rejected"
    )
    smtpd.handler.refuse_data["ben@example.org"] = "550 5.1.1 said after the data"
    assert smtp_project.run("send").returncode == 1
    assert json.loads(smtp_project.run("suppressions", "--format", "json").stdout) == []


def test_a_retry_after_the_key_changed_carries_a_link_that_works(
    smtp_project: Project, smtpd: Server
) -> None:
    """The token in a retried message is today's, and the endpoint knows whose it is."""
    smtp_project.write_config(
        smtp_project.config.read_text()
        + '\n[http]\nlisten = "127.0.0.1:1"\npublic_url = "https://alerts.example.org"\n'
    )
    smtpd.handler.refuse["ben@example.org"] = "451 4.3.0 Try later"
    old, new = "an-old-secret-of-20-chars", "a-new-secret-of-20-chars!"
    smtp_project.run("send", env={"ADVISORY_TOKEN_SECRET": old})
    smtpd.handler.refuse.clear()
    later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()  # the retries are due
    retried = smtp_project.run("retry", env={"ADVISORY_TOKEN_SECRET": new, "ADVISORY_NOW": later})
    assert "due 2, delivered 2" in retried.stdout, retried.stdout + retried.stderr
    sent = smtpd.handler.to("ben@example.org")
    token = str(sent[-1]["List-Unsubscribe"]).split("/unsubscribe/")[1].split(">")[0]
    with open_store(smtp_project.state, readonly=True) as store:
        assert store.suppressions.address_of(token) == "ben@example.org"

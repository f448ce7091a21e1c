"""Bounce reports that arrive after the server's 250: written into `bounces.maildir` as
Postfix, Exim and Gmail write them, and an RFC 5965 complaint, each matched to the
message it reports by its VERP envelope sender or by the Message-ID it quotes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from support.project import ROOT, Project, config_text, smtp_section
from support.smtp import Server

from advisory.inputs import config as config_file
from advisory.inputs.bounces import Report, read_reports
from advisory.run.bounces import read_bounces, read_waiting
from advisory.state import open_store

SAMPLES = ROOT / "tests" / "fixtures" / "bounces"
SECRET = {"ADVISORY_TOKEN_SECRET": "a-secret-of-twenty-chars"}


@pytest.fixture
def verp(project: Project, smtpd: Server) -> Project:
    project.write_config(
        config_text(
            delivery='transport = "smtp"', smtp=smtp_section(smtpd),
            sender_extra='unsubscribe = "mailto:unsubscribe@example.org"\n'
                         'bounce_address = "bounces+{token}@example.org"',
        ).replace('[delivery]', '[bounces]\nmaildir = "bounces"\n\n[delivery]')
    )  # fmt: skip
    for folder in ("new", "cur", "tmp"):
        (project.root / "bounces" / folder).mkdir(parents=True)
    return project


def report(project: Project, name: str, sample: str, **fill: str) -> Path:
    text = (SAMPLES / sample).read_text()
    for field, value in fill.items():
        text = text.replace("{" + field + "}", value)
    path = project.root / "bounces" / "new" / name
    path.write_text(text)
    return path


def sent_to(smtpd: Server, address: str) -> tuple[str, str]:
    """(envelope sender, Message-ID) of what `address` was sent."""
    [got] = [r for r in smtpd.handler.received if r.rcpt_tos == [address]][:1]
    return got.mail_from, str(got.message["Message-ID"])


def suppressed(project: Project) -> dict[str, tuple[str, str]]:
    rows = json.loads(project.run("suppressions", "--format", "json").stdout)
    return {row["address"]: (row["reason"], row["detail"]) for row in rows}


def test_reports_suppress_the_readers_they_report_and_nobody_else(
    verp: Project, smtpd: Server
) -> None:
    assert verp.run("send", env=SECRET).returncode == 0
    ana_from, ana_id = sent_to(smtpd, "ana@example.org")
    assert ana_from.startswith("bounces+") and ana_from.endswith("@example.org")
    assert len(ana_from) == len("bounces+@example.org") + 22
    ben_from, ben_id = sent_to(smtpd, "ben@example.org")
    pager_from, pager_id = sent_to(smtpd, "pager@example.org")
    assert len({ana_from, ben_from, pager_from}) == 3  # each reader's own sender

    plain = "advisories@example.org"
    report(verp, "1.postfix", "postfix_dsn.eml", TO=ana_from, RCPT="ana@example.org",
           MSGID=ana_id)  # fmt: skip
    report(verp, "2.delay", "postfix_delayed.eml", TO=ben_from, RCPT="ben@example.org",
           MSGID=ben_id)  # fmt: skip
    # To the plain address, quoting Ben's Message-ID (which anyone can compute): with
    # VERP on, only a token counts, so nothing changes.
    report(verp, "3.exim", "exim_bounce.eml", TO=plain, RCPT="ben@example.org", MSGID=ben_id)
    report(verp, "4.arf", "arf_complaint.eml", TO=pager_from, RCPT="pager@example.org",
           MSGID=pager_id)  # fmt: skip
    # For a message that was never ours: nothing changes.
    report(verp, "5.gmail", "gmail_dsn.eml", TO=plain, RCPT="stranger@example.org",
           MSGID="<0123456789abcdef0123456789abcdef@elsewhere.example>")  # fmt: skip
    huge = verp.root / "bounces" / "new" / "6.huge"
    huge.write_bytes(b"X-Junk: " + b"x" * (3 * 1024 * 1024) + b"\n\nbody\n")

    result = verp.run("send", env=SECRET)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"{huge}: unreadable bounce report (larger than 2 MB): left there"
    ]
    got = suppressed(verp)
    assert set(got) == {"ana@example.org", "pager@example.org"}
    assert got["ana@example.org"][0] == "bounced"
    assert got["ana@example.org"][1].startswith("5.1.1 550 5.1.1")
    assert got["pager@example.org"] == ("complained", "abuse report")
    left = sorted(p.name for p in (verp.root / "bounces" / "new").iterdir())
    moved = sorted(p.name for p in (verp.root / "bounces" / "cur").iterdir())
    assert left == ["6.huge"]
    assert moved == ["1.postfix:2,S", "2.delay:2,S", "3.exim:2,S", "4.arf:2,S", "5.gmail:2,S"]


def test_without_verp_a_report_is_matched_by_the_message_id_it_quotes(
    project: Project, smtpd: Server
) -> None:
    project.write_config(
        config_text(delivery='transport = "smtp"', smtp=smtp_section(smtpd)).replace(
            "[delivery]", '[bounces]\nmaildir = "bounces"\n\n[delivery]'
        )
    )
    (project.root / "bounces" / "new").mkdir(parents=True)
    assert project.run("send").returncode == 0
    _, ben_id = sent_to(smtpd, "ben@example.org")
    report(project, "exim", "exim_bounce.eml", TO="advisories@example.org",
           RCPT="ben@example.org", MSGID=ben_id)  # fmt: skip
    # Quoting Ben's message but naming someone else: nobody is suppressed for it.
    report(project, "other", "gmail_dsn.eml", TO="advisories@example.org",
           RCPT="stranger@example.org", MSGID=ben_id)  # fmt: skip
    assert project.run("send").returncode == 0
    assert {a: r for a, (r, _) in suppressed(project).items()} == {"ben@example.org": "bounced"}


@pytest.mark.parametrize(
    ("sample", "kind", "failed"),
    [
        ("postfix_dsn.eml", "bounce", {"ana@example.org"}),
        ("postfix_delayed.eml", "other", set()),
        ("exim_bounce.eml", "bounce", {"ana@example.org"}),
        ("gmail_dsn.eml", "bounce", {"ana@example.org"}),
        ("arf_complaint.eml", "complaint", {"ana@example.org"}),
    ],
)
def test_each_format_is_read_for_what_it_says(
    project: Project, sample: str, kind: str, failed: set[str]
) -> None:
    (project.root / "bounces" / "new").mkdir(parents=True)
    msgid = "<0123456789abcdef0123456789abcdef@example.org>"
    report(project, "r", sample, TO="bounces@example.org", RCPT="Ana@example.org", MSGID=msgid)
    [read] = list(read_reports(project.root / "bounces"))
    assert isinstance(read, Report)
    assert (read.kind, set(read.failed)) == (kind, failed)
    assert read.quoted == ("0123456789abcdef0123456789abcdef",)


def test_an_unreadable_report_is_told_once_and_left_alone(project: Project) -> None:
    (project.root / "bounces" / "new").mkdir(parents=True)
    odd = project.root / "bounces" / "new" / "odd"
    odd.symlink_to("/etc/passwd")
    config = config_file.load(project.config)
    with open_store(config.service.state) as store:
        first = read_bounces(asyncio.run(read_waiting(project.root / "bounces")), store, None)
        again = read_bounces(asyncio.run(read_waiting(project.root / "bounces")), store, None)
    assert first == (0, [f"{odd}: unreadable bounce report (not a plain file): left there"])
    assert again == (0, [])
    assert odd.is_symlink()

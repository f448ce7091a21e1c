"""Hostile names and advisory text, end to end through a real SMTP server."""

from __future__ import annotations

import pytest
from support.project import SUBSCRIBERS, VE, Project, body
from support.smtp import Server

from advisory.cli import main


def test_line_breaks_markup_and_template_syntax_arrive_harmless(
    smtp_project: Project, smtpd: Server
) -> None:
    smtp_project.advisory(
        "ve",
        VE.replace(
            'title = "Venezuela: do not travel"',
            'title = "Venezuela\\r\\nBcc: victim@example.org"',
        ).replace(
            "Foreigners risk arbitrary arrest.",
            "<script>alert('x')</script> {{ 7*7 }} {% for x in range(3) %}x{% endfor %}",
        ),
    )
    smtp_project.write_config(
        smtp_project.config.read_text().replace(
            'name = "Ana Pérez"', 'name = "Ana Pérez\\r\\nBcc: victim@example.org"'
        )
    )
    result = smtp_project.run("send")
    assert result.returncode == 0, result.stderr

    received = smtpd.handler.received
    assert all(r.rcpt_tos != ["victim@example.org"] for r in received)
    [ana] = smtpd.handler.to("ana@example.org")
    assert ana["Bcc"] is None
    assert ana["To"].addresses[0].display_name == "Ana Pérez Bcc: victim@example.org"
    html, text = body(ana, "html"), body(ana, "plain")
    assert "<script>" not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "{{ 7*7 }}" in html and "{% for x in range(3) %}x{% endfor %}" in html
    assert "49" not in html and "xxx" not in html
    assert "{{ 7*7 }}" in text and "<script>alert('x')</script>" in text
    assert "Venezuela Bcc: victim@example.org" in html  # the title, on one line


def test_sender_name_with_line_break_is_one_header(smtp_project: Project, smtpd: Server) -> None:
    smtp_project.write_config(
        smtp_project.config.read_text().replace(
            'name = "Travel Advisory Service"', 'name = "Desk\\nX-Injected: yes"'
        )
    )
    assert SUBSCRIBERS in smtp_project.config.read_text()
    assert smtp_project.run("send").returncode == 0
    for r in smtpd.handler.received:
        assert r.message["X-Injected"] is None
        assert r.message["From"].addresses[0].display_name == "Desk X-Injected: yes"


ADVISORY_HEAD = 'country = "VE"\nissued = 2026-11-24\nsource = "S"\ntitle = "T"\nsummary = "S"\n'
HOSTILE_ADVISORIES = [
    # (file content, the one line expected after the file name)
    (ADVISORY_HEAD + "level = 99999999999999999999999999\n",
     "level: expected a level from 1 to 4"),
    (ADVISORY_HEAD + "level = 4.0\n", "level: expected a level from 1 to 4"),
    (ADVISORY_HEAD + "level = nan\n", "level: expected a level from 1 to 4"),
    (ADVISORY_HEAD + 'level = 4\ndetails = "a\\u0000b"\n', "details: contains a control character"),
    (ADVISORY_HEAD + "level = 4\ndetails = '" + "x" * 1_200_000 + "'\n",
     "details: expected at most 100000 characters"),
    (ADVISORY_HEAD.replace('title = "T"', 'title = "' + "T" * 400 + '"') + "level = 4\n",
     "title: expected at most 300 characters"),
    (ADVISORY_HEAD + "level = 4\nrisks = " + "[" * 2000 + "]" * 2000 + "\n",
     "TOML nested too deeply"),
]  # fmt: skip


@pytest.mark.parametrize(("content", "expected"), HOSTILE_ADVISORIES)
def test_hostile_advisory_files_get_one_line_and_nothing_is_sent(
    project: Project, capsys: pytest.CaptureFixture[str], content: str, expected: str
) -> None:
    path = project.advisory("ve", content)
    assert main(["send", "--config", str(project.config)]) == 2
    assert capsys.readouterr().err.splitlines() == [f"{path}: {expected}"]
    assert not project.state.exists() and not project.outbox.exists()


def test_raw_control_bytes_and_invalid_utf8_in_advisory_files(project: Project) -> None:
    path = project.advisory("ve", "")
    path.write_bytes(VE.encode().replace(b"Travel to", b"Travel\x00to"))
    result = project.run("check")
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    number = VE.splitlines().index("Travel to Venezuela has long been advised against.") + 1
    assert line.startswith(f"{path}: line {number}, column ") and "TOML syntax" in line
    path.write_bytes(VE.encode().replace(b"Travel to", b"Travel \xff to"))
    result = project.run("check")
    assert result.stderr.splitlines() == [f"{path}: line {number}: not valid UTF-8"]


def test_hostile_numbers_in_config(project: Project) -> None:
    for bad, expected in [
        ("rate_limit = inf", "delivery.rate_limit: expected a finite number"),
        ("rate_limit = nan", "delivery.rate_limit: expected a finite number"),
        ("rate_limit = 1e308", "delivery.rate_limit: expected less than or equal to 100000"),
    ]:
        project.write_config(
            project.config.read_text().split("[delivery]")[0]
            + f'[delivery]\ntransport = "maildir"\n{bad}\n\n'
            + SUBSCRIBERS
        )
        result = project.run("check")
        assert (result.returncode, result.stderr.splitlines()) == (
            2, [f"{project.config}: {expected}"],
        )  # fmt: skip


def test_bidi_overrides_never_reach_the_reader(project: Project) -> None:
    project.advisory("ve", VE.replace("Venezuela: do not travel", "Venezuela \u202edo not travel"))
    assert project.run("send").returncode == 0
    for path in (project.outbox / "new").iterdir():
        assert "\u202e".encode() not in path.read_bytes()
        assert b"=E2=80=AE" not in path.read_bytes()

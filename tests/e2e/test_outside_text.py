"""Text from outside is data: a server's reply of any bytes never breaks a write to the state,
never drives a terminal, and a write that fails stops the sending at once."""

from __future__ import annotations

import io
import sqlite3
import tempfile
import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from support.project import Project, config_text, many, smtp_section
from support.rawsmtp import RawSmtp, raw_smtp
from support.smtp import Server

from advisory import logs
from advisory.domain.text import INTERNAL, outside
from advisory.logs import Log
from advisory.state import open_store
from advisory.state.base import Attempt, Entry

LATIN1 = b"550 5.1.1 Empf\xe4nger unbekannt"
ESCAPES = b"550 5.7.1 \x1b]0;owned\x07\x1b[2J\x1b[31mno such user\x1b[0m\r"


def raw_project(project: Project, port: int) -> None:
    smtp = f'host = "127.0.0.1"\nport = {port}\nsecurity = "none"\ntimeout = 10'
    project.write_config(config_text(delivery='transport = "smtp"', smtp=smtp))


def test_a_reply_that_is_not_utf8_is_kept_and_nobody_is_sent_twice(project: Project) -> None:
    with raw_smtp(RawSmtp(refuse={"ana@example.org": LATIN1})) as server:
        raw_project(project, server.port)
        first = project.run("send")
        assert first.returncode == 1, first.stderr
        assert "Traceback" not in first.stderr
        assert "ana@example.org: delivery failed: 550 5.1.1 Empf\\xe4nger unbekannt" in first.stderr
        assert "delivered 3, failed 1" in first.stdout
        again = project.run("send")  # finds everything recorded: nothing goes again
        assert (again.returncode, again.stdout.split(" (")[0]) == (0, "nothing due")
        assert len(server.accepted) == 3
    status = project.run("status")
    assert "last error: delivery failed: 550 5.1.1 Empf\\xe4nger unbekannt" in status.stdout


def test_escape_sequences_in_replies_never_reach_the_terminal(project: Project) -> None:
    with raw_smtp(RawSmtp(refuse={"ana@example.org": ESCAPES})) as server:
        raw_project(project, server.port)
        sent = project.run("send")
    status = project.run("status")
    for output in (sent.stderr, status.stdout):
        assert "no such user" in output
        assert "\x1b" not in output and "\x07" not in output and "\r" not in output


def test_a_failed_outcome_write_stops_the_sending_at_once(project: Project, smtpd: Server) -> None:
    smtpd.handler.delay = 0.05
    many(project, 40, smtp_section(smtpd, connections="1"))
    open_store(project.state).close()
    # The state file refuses every outcome from now on, as a failing disk would.
    with sqlite3.connect(project.state) as db:
        db.execute(
            "CREATE TRIGGER broken BEFORE INSERT ON attempts "
            "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
        )
    started = time.monotonic()
    result = project.run("send")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "sending stopped" in result.stderr
    assert time.monotonic() - started < 10
    assert len(smtpd.handler.received) <= 5  # of 40: stopped at the first failed write
    with sqlite3.connect(project.state) as db:
        queued = db.execute("SELECT count(*) FROM messages WHERE status = 'queued'").fetchone()
    assert queued == (40,)  # all still queued: the next run sends what was not recorded


HOSTILE = st.lists(
    st.one_of(
        st.characters(exclude_categories=()),  # surrogates and controls included
        st.sampled_from(["\ue000", "\ue002", "\ufdd0", "\ufdd2", "\U0010fffd", "\x1b[2J", "\x9b"]),
    ),
    max_size=200,
).map("".join)


@settings(max_examples=80, deadline=None)
@given(reason=HOSTILE)
def test_any_text_reaches_the_state_and_the_log_printable(reason: str) -> None:
    with tempfile.TemporaryDirectory() as folder, open_store(Path(folder) / "s.sqlite3") as store:
        store.outbox.enqueue(
            [Entry("k", "alert", "a@example.org", "VE", "v", "text", "queued", 0.0)]
        )
        store.outbox.record_many([Attempt("k", "permanent", 1.0, reason)])
        [kept] = store.outbox.entries(status="failed")
        store.publishers.fetched("us-state", 1.0, answered=False, changed=[], errors=[reason])
        kept_source = store.publishers.states()["us-state"].last_error
    for text in (kept.last_error, kept_source, outside(reason)):
        assert text is not None and text.isprintable()
        text.encode("utf-8")  # strictly: no lone surrogate left
        assert not INTERNAL.search(text)
    stream = io.StringIO()
    logs.setup("json", stream)
    Log()("delivery", reason, detail=reason)
    logs.setup("text", stream)
    Log()("delivery", reason)
    logs.setup("text")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and all(line.isprintable() for line in lines)
    stream.getvalue().encode("utf-8")

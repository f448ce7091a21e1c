"""Pipelining (RFC 2920) against a server that insists on it, and its faults: a recipient
of a batch refused, the connection dropped after MAIL or after a message's end, a
message's end refused while the next one's commands came with it, replies out of step.
Every message arrives once, and each outcome is what the server said of it."""

from __future__ import annotations

from collections import Counter

import pytest
from support.project import Project, config_text, parse
from support.rawsmtp import RawSmtp, raw_smtp

EVERYONE = Counter({"ana@example.org": 1, "ben@example.org": 2, "pager@example.org": 1})
LATER = {"ADVISORY_NOW": "2099-01-01T00:00"}  # long after any retry's time


def pipelined(project: Project, port: int) -> None:
    """One connection, so every message goes on the same session while it lasts."""
    smtp = f'host = "127.0.0.1"\nport = {port}\nsecurity = "none"\ntimeout = 5\nconnections = 1'
    project.write_config(config_text(delivery='transport = "smtp"', smtp=smtp))


def arrived(server: RawSmtp) -> Counter[str]:
    messages = [parse(data) for data in server.accepted]
    assert len({m["Message-ID"] for m in messages}) == len(messages), "a message came twice"
    return Counter(m["To"].addresses[0].addr_spec for m in messages)


def test_a_server_answering_only_whole_batches_gets_every_message_on_one_connection(
    project: Project,
) -> None:
    with raw_smtp(RawSmtp(pipelining=True)) as server:
        pipelined(project, server.port)
        sent = project.run("send")
        assert sent.returncode == 0, sent.stderr
        assert "delivered 4" in sent.stdout, sent.stdout
    assert arrived(server) == EVERYONE
    assert server.connections == 1  # (a client waiting for each reply would wait forever)
    assert server.ahead == 3  # one write a message: its commands with the end of the one before
    subjects = [parse(data)["Subject"] for data in server.accepted]
    assert all("Venezuela" in s or "Colombia" in s for s in subjects), subjects


def test_one_recipient_refused_in_a_batch_fails_alone_and_the_session_goes_on(
    project: Project,
) -> None:
    refusal = b"550 5.1.1 <ben@example.org>: no such user"
    with raw_smtp(RawSmtp(pipelining=True, refuse={"ben@example.org": refusal})) as server:
        pipelined(project, server.port)
        sent = project.run("send")
        assert sent.returncode == 1
        assert "delivered 2, failed 2" in sent.stdout, sent.stdout
        assert "ben@example.org: delivery failed: 550 5.1.1" in sent.stderr
        again = project.run("send")
        assert again.stdout.startswith("nothing due"), again.stdout
    assert arrived(server) == EVERYONE - Counter({"ben@example.org": 2})
    assert server.connections == 1  # reset, not reconnected
    assert "ben@example.org" in project.run("suppressions").stdout  # bounced: suppressed


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        # (Ana's is the connection's first message: no MAIL came before hers with an end)
        pytest.param({"drop_after_mail": {"ana@example.org"}}, "closed the connection",
                     id="dropped-after-mail"),
        pytest.param({"twice": {"ben@example.org"}}, "out of step", id="replies-out-of-step"),
    ],
)  # fmt: skip
def test_a_broken_session_keeps_its_message_queued_for_its_retry_and_sends_it_once(
    project: Project, fault: dict[str, set[str]], said: str
) -> None:
    [[who]] = fault.values()  # (the server forgets each as it breaks on it)
    with raw_smtp(RawSmtp(pipelining=True, **fault)) as server:
        pipelined(project, server.port)
        first = project.run("send")
        assert first.returncode == 1
        assert "delivered 3" in first.stdout and "1 queued for retry" in first.stdout, first.stdout
        assert said in first.stderr
        assert arrived(server) == EVERYONE - Counter({who: 1})  # never as sent
        retry = project.run("retry", env=LATER)
        assert retry.returncode == 0 and "delivered 1" in retry.stdout, retry.stdout
    assert arrived(server) == EVERYONE
    assert server.connections == 3  # the first, one after the broken session, the retry's


def test_a_server_closing_with_its_acceptance_gets_that_message_once(project: Project) -> None:
    with raw_smtp(RawSmtp(pipelining=True, closing={"ana@example.org"})) as server:
        pipelined(project, server.port)
        sent = project.run("send")
        assert sent.returncode == 0, sent.stderr
        assert "delivered 4" in sent.stdout, sent.stdout
        assert project.run("send").stdout.startswith("nothing due")
    assert arrived(server) == EVERYONE  # Ana's counted as sent: the 421 came after its 250
    assert server.connections == 2


def test_an_end_refused_while_the_next_commands_came_with_it_fails_alone(
    project: Project,
) -> None:
    refusal = b"554 5.6.0 <ben@example.org>: content refused"
    with raw_smtp(RawSmtp(pipelining=True, refuse_end={"ben@example.org": refusal})) as server:
        pipelined(project, server.port)
        sent = project.run("send")
        assert sent.returncode == 1
        assert "delivered 3, failed 1" in sent.stdout, sent.stdout
        assert "ben@example.org: delivery failed: 554 5.6.0" in sent.stderr
    assert arrived(server) == EVERYONE - Counter({"ben@example.org": 1})
    assert server.connections == 1 and server.ahead == 3  # the session went on, no reset


def test_a_connection_dropped_after_a_message_end_retries_it_and_sends_the_next_now(
    project: Project,
) -> None:
    with raw_smtp(RawSmtp(pipelining=True, drop_after_end={"ana@example.org"})) as server:
        pipelined(project, server.port)
        first = project.run("send")
        assert first.returncode == 1
        assert "delivered 3" in first.stdout and "1 queued for retry" in first.stdout, first.stdout
        assert "ana@example.org: delivery failed: the server closed the connection" in first.stderr
        assert arrived(server) == EVERYONE - Counter({"ana@example.org": 1})
        assert server.connections == 2  # the next message's commands came to nothing there
        retry = project.run("retry", env=LATER)
        assert retry.returncode == 0 and "delivered 1" in retry.stdout, retry.stdout
    assert arrived(server) == EVERYONE


def test_a_connection_dropped_after_the_next_message_mail_sends_it_on_another_at_once(
    project: Project,
) -> None:
    """Ben's MAIL came with the end of the message before his, and was answered; then the
    connection broke. Nothing of his was sent: he goes on a new connection, once."""
    with raw_smtp(RawSmtp(pipelining=True, drop_after_mail={"ben@example.org"})) as server:
        pipelined(project, server.port)
        sent = project.run("send")
        assert sent.returncode == 0, sent.stderr
        assert "delivered 4" in sent.stdout, sent.stdout
    assert arrived(server) == EVERYONE
    assert server.connections == 2

"""The delivery's own rules, each on its own: queued before sent, outcomes written in
batches and soon, a stop that keeps the rest queued. Real SQLite, a real Maildir."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from support.project import Project, many
from support.rawsmtp import RawSmtp, raw_smtp

from advisory.errors import StateError
from advisory.inputs import config as config_file
from advisory.inputs.advisory_files import load_advisories
from advisory.inputs.config import Config
from advisory.inputs.subscribers import read_roster
from advisory.mail.compose import Envelope
from advisory.mail.rendering import Renderer
from advisory.mail.transports import MaildirTransport, SmtpTransport
from advisory.run.counts import Counts
from advisory.run.deliver import Delivery
from advisory.run.plan import Purpose, plan_for
from advisory.run.run import hold
from advisory.state import open_store
from advisory.state.base import Status


class Watched(MaildirTransport):
    """A real Maildir that, as each message is handed to it, looks at the state as
    another process would (its own connection: only what was committed)."""

    def __init__(self, path: Path, state: Path, delay: float = 0.0) -> None:
        super().__init__(path)
        self.state = state
        self.delay = delay
        self.seen: list[tuple[str, Status | None, int]] = []  # recipient, its status, sent

    async def send(self, envelope: Envelope, then: Envelope | None = None) -> None:
        await asyncio.sleep(self.delay)
        with open_store(self.state, readonly=True) as other:
            mine = [e.status for e in other.outbox.entries(status="queued")
                    if e.recipient == envelope.recipient]  # fmt: skip
            sent = other.outbox.counts().get("sent", 0)
        self.seen.append((envelope.recipient, mine[0] if mine else None, sent))
        await super().send(envelope)


def setup(project: Project, readers: int) -> Config:
    many(project, readers, 'host = "localhost"')
    text = project.config.read_text().replace('transport = "smtp"', 'transport = "maildir"')
    project.write_config(text)
    return config_file.load(project.config)


def deliver(config: Config, transport: Watched, **options: object) -> Counts:
    advisories = load_advisories(config.service.advisories)
    with open_store(config.service.state) as store, read_roster(config) as roster:
        plan = plan_for(Purpose(), roster, advisories, store.outbox, 1000.0)
        delivery = Delivery(config, store, transport, Renderer(), **options)  # type: ignore[arg-type]
        return asyncio.run(delivery.run(plan))


def test_every_message_is_queued_before_its_first_attempt(project: Project) -> None:
    config = setup(project, 5)
    transport = Watched(project.outbox, project.state)
    counts = deliver(config, transport)
    assert counts.delivered == 5
    assert [status for _, status, _ in transport.seen] == ["queued"] * 5


def test_outcomes_are_written_in_batches(project: Project) -> None:
    config = setup(project, 7)
    transport = Watched(project.outbox, project.state)
    deliver(config, transport, flush_batch=3, flush_every=60.0)
    # What another process sees as sent when each message goes: whole batches of three.
    assert [sent for _, _, sent in transport.seen] == [0, 0, 0, 3, 3, 3, 6]
    with open_store(project.state, readonly=True) as store:
        assert store.outbox.counts() == {"sent": 7}  # the last, short batch at the end


def test_an_outcome_waits_no_longer_than_flush_every(project: Project) -> None:
    config = setup(project, 4)
    transport = Watched(project.outbox, project.state, delay=0.2)
    deliver(config, transport, flush_every=0.02)
    assert [sent for _, _, sent in transport.seen] == [0, 1, 2, 3]


def test_outcomes_whose_commit_fails_are_told_as_not_recorded(project: Project) -> None:
    """A commit that fails (a full disk shows there first) leaves its outcomes to be
    counted in what the run says it could not record."""
    config = setup(project, 4)
    open_store(project.state).close()
    with sqlite3.connect(project.state) as db:  # every outcome's commit fails from now on
        db.execute("CREATE TABLE checks (key TEXT REFERENCES messages (key) "
                   "DEFERRABLE INITIALLY DEFERRED)")  # fmt: skip
        db.execute("CREATE TRIGGER broken AFTER INSERT ON attempts "
                   "BEGIN INSERT INTO checks VALUES ('no such message'); END")  # fmt: skip
    transport = Watched(project.outbox, project.state, delay=0.2)
    advisories = load_advisories(config.service.advisories)
    with open_store(config.service.state) as store, read_roster(config) as roster:
        store.db.execute("PRAGMA foreign_keys = ON")
        plan = plan_for(Purpose(), roster, advisories, store.outbox, 1000.0)
        delivery = Delivery(config, store, transport, Renderer(), flush_every=0.02)
        with pytest.raises(StateError) as caught:
            asyncio.run(delivery.run(plan))
    assert len(transport.seen) == 1
    assert caught.value.problems[-1] == (
        "sending stopped: 1 outcome not recorded; those messages stay queued and go again "
        "on the next run"
    )


def test_a_stop_finishes_what_is_in_flight_and_keeps_the_rest_queued(project: Project) -> None:
    config = setup(project, 6)
    stop = asyncio.Event()

    class Stopping(Watched):
        async def send(self, envelope: Envelope, then: Envelope | None = None) -> None:
            await super().send(envelope, then)
            if len(self.seen) == 2:
                stop.set()

    transport = Stopping(project.outbox, project.state)
    counts = deliver(config, transport, stop=stop)
    assert (counts.due, counts.delivered, counts.left) == (6, 2, 4)
    with open_store(project.state, readonly=True) as store:
        assert store.outbox.counts() == {"sent": 2, "queued": 4}
    assert len(list((project.outbox / "new").iterdir())) == 2


def test_a_stop_leaves_the_message_begun_with_the_last_end_queued_and_unsent(
    project: Project,
) -> None:
    """Its MAIL, RCPT and DATA went with the end of the one in flight: the connection is
    closed with its content unsent, and the next run sends it once."""
    stop = asyncio.Event()

    class Stopping(SmtpTransport):
        async def send(self, envelope: Envelope, then: Envelope | None = None) -> None:
            await super().send(envelope, then)
            if then is not None:
                stop.set()

    with raw_smtp(RawSmtp(pipelining=True)) as server:
        many(project, 6, f'host = "127.0.0.1"\nport = {server.port}\nsecurity = "none"\n'
                         "timeout = 5\nconnections = 1")  # fmt: skip
        config = config_file.load(project.config)
        counts = deliver(config, Stopping(config.smtp), stop=stop)  # type: ignore[arg-type]
        assert (counts.due, counts.delivered, counts.left) == (6, 1, 5)
        assert len(server.accepted) == 1 and server.ahead == 1  # begun, never given content
        with open_store(project.state, readonly=True) as store:
            assert store.outbox.counts() == {"sent": 1, "queued": 5}
        rest = deliver(config, SmtpTransport(config.smtp))  # type: ignore[arg-type]
        assert (rest.due, rest.delivered) == (5, 5)
    assert len(server.accepted) == 6 and len(set(server.accepted)) == 6


def test_a_run_stopped_while_waiting_its_turn_never_starts(project: Project) -> None:
    """A job waiting for the state while the service is told to stop does not begin."""

    async def go() -> list[bool]:
        stop = asyncio.Event()
        stop.set()
        got = []
        with open_store(project.state) as store:
            async with hold(store, lambda: None, stop) as held:
                got.append(held)
            store.acquire()  # and the lock was not left taken
            store.release()
        return got

    assert asyncio.run(go()) == [False]

"""Delivery under faults: the right messages end sent or failed, retries come on schedule,
and the server never receives a message twice. Time is a clock we move, not sleeps."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import pytest
from support.faults import Fault, FaultyRecorder, start_faulty
from support.project import Project, config_text, many, smtp_section
from support.smtp import Server

from advisory.inputs import config as config_file
from advisory.inputs.advisory_files import load_advisories
from advisory.inputs.subscribers import read_roster
from advisory.mail.rendering import Renderer
from advisory.mail.transports import open_transport
from advisory.run.counts import Counts
from advisory.run.deliver import Delivery
from advisory.run.plan import plan_run
from advisory.state import open_store
from advisory.state.base import Entry

T0 = 1_800_000_000.0
ALL = {"ana@example.org", "ben@example.org", "pager@example.org"}  # 4 messages: Ben gets 2


@dataclass
class Clock:
    """The time every run sees; and the service's randomness, seeded once per test."""

    now: float = T0
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["lock-step", "pipelining"])
def faulty(request: pytest.FixtureRequest) -> Iterator[Server]:
    """The faulty server, each test run against it with and without PIPELINING offered."""
    handler = FaultyRecorder(pipelining=request.param == "pipelining")
    controller = start_faulty(handler)
    yield Server("127.0.0.1", controller.port, handler)
    controller.stop()


def configure(project: Project, server: Server, **smtp: str) -> None:
    settings = {"connections": "1", "timeout": "1"} | smtp
    project.write_config(
        config_text(
            delivery='transport = "smtp"\ngive_up_after = "1h"',
            smtp=smtp_section(server, **settings),
        )
    )


def with_faults(project: Project, server: Server, *faults: Fault) -> Clock:
    """Point the project at the faulty server, script its faults, and start the clock."""
    configure(project, server)
    assert isinstance(server.handler, FaultyRecorder)
    server.handler.plan.extend(replace(fault) for fault in faults)  # (each test its own)
    return Clock()


def run(project: Project, clock: Clock) -> Counts:
    """One `advisory send` in process, at the clock's time (and its retries' jitter)."""
    config = config_file.load(project.config)
    advisories = load_advisories(config.service.advisories)
    with open_store(config.service.state) as store:
        the_plan = plan_run(read_roster(config), advisories, store.outbox, clock())
        delivery = Delivery(config, store, open_transport(config), Renderer(), clock=clock,
                            rng=clock.rng)  # fmt: skip
        return asyncio.run(delivery.run(the_plan))


def entries(project: Project) -> dict[tuple[str, str], Entry]:
    with open_store(project.state, readonly=True) as store:
        rows = [*store.outbox.entries(status="queued"), *store.outbox.entries(status="sent"),
                *store.outbox.entries(status="failed")]  # fmt: skip
    return {(e.recipient, e.advisory): e for e in rows}


def delivered(server: Server) -> Counter[str]:
    handler = server.handler
    ids = Counter(r.message["Message-ID"] for r in handler.received)
    assert set(ids.values()) <= {1}, "a message was received twice"
    return Counter(r.rcpt_tos[0] for r in handler.received)


TEMPORARY = [
    pytest.param(Fault("greeting", "421 4.3.2 Service shutting down"), "421", id="421-greeting"),
    pytest.param(Fault("rcpt", "451 4.3.0 Try later", "ana@example.org"), "451", id="451-rcpt"),
    pytest.param(Fault("data", "451 4.3.0 Queue full", "ana@example.org"), "451", id="451-data"),
    pytest.param(
        Fault("data", None, "ana@example.org"), "closed the connection", id="drop-mid-data"
    ),
    pytest.param(Fault("rcpt", "250 OK", "ana@example.org", delay=2), "timed out", id="slow-rcpt"),
]


@pytest.mark.parametrize(("fault", "reason"), TEMPORARY)
def test_temporary_fault_is_retried_within_a_minute_and_delivered_once(
    project: Project, faulty: Server, fault: Fault, reason: str
) -> None:
    clock = with_faults(project, faulty, fault)
    first = run(project, clock)
    # The fault costs one message one attempt; the others go through, on a fresh
    # connection where the server dropped or stalled the first.
    assert (first.due, first.delivered, first.retrying, first.failed) == (4, 3, 1, 0)
    [waiting] = [e for e in entries(project).values() if e.status == "queued"]
    assert reason in (waiting.last_error or "").lower()
    assert waiting.next_attempt is not None and T0 < waiting.next_attempt <= T0 + 60

    clock.now = waiting.next_attempt - 1
    assert run(project, clock).due == 0  # not yet
    clock.now = waiting.next_attempt
    second = run(project, clock)
    assert (second.due, second.delivered) == (1, 1)
    assert delivered(faulty) == Counter({"ana@example.org": 1, "ben@example.org": 2,
                                         "pager@example.org": 1})  # fmt: skip
    assert {e.status for e in entries(project).values()} == {"sent"}


def test_permanent_refusal_fails_at_once_and_is_never_retried(
    project: Project, faulty: Server
) -> None:
    clock = with_faults(
        project, faulty, Fault("rcpt", "550 5.1.1 No such user", "ana@example.org", times=9)
    )
    first = run(project, clock)
    assert (first.delivered, first.retrying, first.failed) == (3, 0, 1)
    ana = entries(project)[("ana@example.org", "VE")]
    assert (ana.status, ana.attempts, ana.next_attempt) == ("failed", 1, None)
    clock.now += 86400
    assert run(project, clock).due == 0
    assert "ana@example.org" not in delivered(faulty)


def test_retries_back_off_doubling_with_jitter_until_give_up(
    project: Project, faulty: Server
) -> None:
    clock = with_faults(
        project, faulty, Fault("rcpt", "451 4.7.1 Greylisted", "ana@example.org", times=99)
    )
    run(project, clock)
    delays = []
    while (ana := entries(project)[("ana@example.org", "VE")]).status == "queued":
        assert ana.next_attempt is not None
        delays.append(ana.next_attempt - clock.now)
        clock.now = ana.next_attempt
        run(project, clock)
    assert ana.status == "failed" and ana.attempts == len(delays) + 1
    assert clock.now - T0 <= 3600  # give_up_after = "1h"
    assert 30 <= delays[0] <= 60
    for n, delay in enumerate(delays):
        ceiling = min(60 * 2**n, 900)
        assert ceiling / 2 <= delay <= ceiling, (n, delays)
    assert len(set(delays)) == len(delays)  # jittered, not in lockstep
    assert faulty.handler.to("ana@example.org") == []
    assert delivered(faulty) == Counter({"ben@example.org": 2, "pager@example.org": 1})


class _Exploding:
    """A transport whose third send hits a bug: the run must stop every worker."""

    concurrency = 3
    ahead = False

    def __init__(self) -> None:
        self.sends = 0
        self.after_failure = 0
        self.failed = False

    async def send(self, envelope: object, then: object = None) -> None:
        self.sends += 1
        if self.failed:
            self.after_failure += 1
        if self.sends == 3:
            self.failed = True
            raise RuntimeError("a bug")
        await asyncio.sleep(0.05)

    async def close(self) -> None:
        return None


def test_a_bug_in_one_worker_stops_them_all(project: Project) -> None:
    many(project, 12, 'host = "localhost"')
    project.write_config(project.config.read_text().replace('transport = "smtp"',
                                                            'transport = "maildir"'))  # fmt: skip
    config = config_file.load(project.config)
    transport = _Exploding()

    async def go() -> None:
        with open_store(config.service.state) as store:
            the_plan = plan_run(
                read_roster(config), load_advisories(config.service.advisories), store.outbox, T0
            )
            with pytest.raises(RuntimeError):
                await Delivery(config, store, transport, Renderer()).run(the_plan)
            await asyncio.sleep(0.3)  # a worker left running would go on sending

    asyncio.run(go())
    assert transport.after_failure == 0
    assert transport.sends <= 5

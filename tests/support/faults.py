"""A fault-injecting SMTP server on aiosmtpd: a scripted plan of refusals, drops and stalls."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from support.smtp import Recorder, free_port

Phase = Literal["greeting", "rcpt", "data"]


@dataclass
class Fault:
    """At `phase` (for `recipient`, or anyone), answer `reply`, or drop the connection (None)."""

    phase: Phase
    reply: str | None
    recipient: str | None = None
    times: int = 1
    delay: float = 0.0  # seconds to stall before answering


@dataclass
class FaultyRecorder(Recorder):
    plan: list[Fault] = field(default_factory=list)
    dropped: int = 0
    pipelining: bool = False  # offer PIPELINING (RFC 2920), which aiosmtpd reads as it comes

    async def handle_EHLO(
        self, server: Any, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]] if self.pipelining else responses

    def take(self, phase: Phase, recipient: str | None = None) -> Fault | None:
        for fault in self.plan:
            if fault.phase == phase and fault.times > 0 and fault.recipient in (None, recipient):
                fault.times -= 1
                return fault
        return None

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        fault = self.take("rcpt", address.lower())
        if fault is None:
            return await super().handle_RCPT(server, session, envelope, address, options)
        await asyncio.sleep(fault.delay)
        return await self._answer(server, fault)

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        fault = self.take("data", envelope.rcpt_tos[0].lower())
        if fault is None:
            return await super().handle_DATA(server, session, envelope)
        await asyncio.sleep(fault.delay)
        return await self._answer(server, fault)

    async def _answer(self, server: Any, fault: Fault) -> str:
        if fault.reply is None:
            self.dropped += 1
            server.transport.close()
            return "421 4.4.2 connection dropped"  # never reaches the client
        return fault.reply


class _FaultySMTP(SMTP):
    greeted = False

    async def push(self, status: Any) -> None:
        if not self.greeted and isinstance(status, str) and status.startswith("220 "):
            self.greeted = True
            handler = self.event_handler
            assert isinstance(handler, FaultyRecorder)
            fault = handler.take("greeting")
            if fault is not None:
                await asyncio.sleep(fault.delay)
                if fault.reply is not None:
                    await super().push(fault.reply)
                assert self.transport is not None
                self.transport.close()
                return
        await super().push(status)


class FaultyController(Controller):
    def factory(self) -> SMTP:
        return _FaultySMTP(self.handler, **self.SMTP_kwargs)


def start_faulty(handler: FaultyRecorder) -> FaultyController:
    controller = FaultyController(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    return controller

"""An aiosmtpd server on 127.0.0.1 that records what it accepts and refuses what it is told."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "s3cret-Pa55word!"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    peer: tuple[str, int]  # one per connection
    at: float = field(default_factory=time.monotonic)
    raw: bytes = b""  # as it arrived, dots undoubled


@dataclass
class Recorder:
    """An aiosmtpd handler that keeps what it accepted and refuses what it is told to."""

    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # address -> reply at RCPT
    refuse_data: dict[str, str] = field(default_factory=dict)  # address -> reply after DATA
    refuse_sender: str = ""  # reply to MAIL FROM, if set
    refused: list[Received] = field(default_factory=list)  # received, then refused after DATA
    delay: float = 0.0  # seconds before answering DATA: a slow server
    hold: set[str] = field(default_factory=set)  # addresses whose DATA hangs, never accepted
    held: list[str] = field(default_factory=list)  # those that arrived, and hung

    async def handle_MAIL(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.refuse_sender:
            return self.refuse_sender
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.lower() in self.refuse:
            return self.refuse[address.lower()]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        await asyncio.sleep(self.delay)
        if envelope.rcpt_tos[0].lower() in self.hold:
            self.held.append(envelope.rcpt_tos[0].lower())
            await asyncio.sleep(60)  # the sender is killed meanwhile: nothing is accepted
            return "451 4.3.0 held"
        peer = session.peer
        assert isinstance(peer, tuple)
        got = Received(
            str(envelope.mail_from), list(envelope.rcpt_tos), msg, (peer[0], peer[1]), raw=raw
        )
        reply = self.refuse_data.get(envelope.rcpt_tos[0].lower())
        if reply:
            self.refused.append(got)
            return reply
        self.received.append(got)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [r.message for r in self.received if address in r.rcpt_tos]


@dataclass
class Server:
    host: str
    port: int
    handler: Recorder
    ca_file: Path | None = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start(handler: Recorder, **kwargs: Any) -> Controller:
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    return controller

"""Real parts for tests: an aiosmtpd server on 127.0.0.1 (plain or STARTTLS with trustme
certificates), a project folder with config and advisory files, and the CLI as a subprocess."""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import socket
import ssl
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "s3cret-Pa55word!"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    peer: tuple[str, int]  # one per connection
    at: float = field(default_factory=time.monotonic)


@dataclass
class Recorder:
    """An aiosmtpd handler that keeps what it accepted and refuses what it is told to."""

    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # address -> reply at RCPT
    refuse_data: dict[str, str] = field(default_factory=dict)  # address -> reply after DATA
    refuse_sender: str = ""  # reply to MAIL FROM, if set
    refused: list[Received] = field(default_factory=list)  # received, then refused after DATA
    delay: float = 0.0  # seconds before answering DATA: a slow server

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
        peer = session.peer
        assert isinstance(peer, tuple)
        got = Received(str(envelope.mail_from), list(envelope.rcpt_tos), msg, (peer[0], peer[1]))
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


def _start(handler: Recorder, **kwargs: Any) -> Controller:
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    return controller


@pytest.fixture
def smtpd() -> Iterator[Server]:
    """A plain SMTP server (security = "none")."""
    handler = Recorder()
    controller = _start(handler)
    yield Server("127.0.0.1", controller.port, handler)
    controller.stop()


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def smtpd_tls(ca: trustme.CA, tmp_path: Path) -> Iterator[Server]:
    """STARTTLS required, a certificate for 127.0.0.1 from a test CA, and LOGIN with PASSWORD."""
    handler = Recorder()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False)

    controller = _start(
        handler,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
    )
    yield Server("127.0.0.1", controller.port, handler, ca_file)
    controller.stop()


VE = """\
country = "VE"
level = 4
risks = ["detention"]
title = "Venezuela: do not travel"
summary = "Foreigners have been arrested arbitrarily and held as bargaining chips."
details = '''
Travel to Venezuela has long been advised against.

Foreigners risk arbitrary arrest.
'''
issued = 2026-11-24
source = "Travel Advisory Service"
source_url = "https://example.org/advisories/ve"
"""

CO = """\
country = "CO"
level = 2
risks = ["crime"]
title = "Colombia: exercise increased caution"
summary = "Crime is common in some areas."
issued = 2026-11-20
source = "Travel Advisory Service"
"""

SUBSCRIBERS = """\
[[subscribers]]
name = "Ana Pérez"
email = "ana@example.org"
countries = ["VE", "CO"]
min_level = 3
format = "html"

[[subscribers]]
name = "Ben Okafor"
email = "ben@example.org"
countries = ["*"]
min_level = 1
format = "text"

[[subscribers]]
name = "Duty pager"
email = "pager@example.org"
countries = ["VE"]
min_level = 4
format = "alert"

[[subscribers]]
name = "Chloé Martin"
email = "chloe@example.org"
countries = ["CO"]
min_level = 3
format = "html"
"""


@dataclass
class Project:
    """A config folder of our own: config file, advisory files, state and outbox."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "advisory.toml"

    @property
    def state(self) -> Path:
        return self.root / "state.sqlite3"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    def write_config(self, body: str) -> None:
        self.config.write_text(textwrap.dedent(body), encoding="utf-8")

    def advisory(self, name: str, body: str) -> Path:
        path = self.root / "advisories" / f"{name}.toml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(body, encoding="utf-8")
        return path

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, config=self.config, env=env)


def config_text(
    *,
    delivery: str = 'transport = "maildir"\nmaildir = "outbox"',
    smtp: str = "",
    sender_extra: str = 'unsubscribe = "mailto:unsubscribe@example.org"',
    subscribers: str = SUBSCRIBERS,
) -> str:
    return (
        '[service]\nstate = "state.sqlite3"\nadvisories = "advisories"\ntimezone = "UTC"\n\n'
        f'[sender]\naddress = "advisories@example.org"\nname = "Travel Advisory Service"\n'
        f"{sender_extra}\n\n[delivery]\n{delivery}\n\n"
        + (f"[smtp]\n{smtp}\n\n" if smtp else "")
        + subscribers
    )


def smtp_section(server: Server, **extra: Any) -> str:
    lines = {
        "host": f'"{server.host}"',
        "port": str(server.port),
        "security": '"starttls"' if server.ca_file else '"none"',
        "timeout": "10",
    }
    if server.ca_file:
        lines["ca_file"] = f'"{server.ca_file}"'
    lines.update(extra)
    return "\n".join(f"{k} = {v}" for k, v in lines.items())


@pytest.fixture
def project(tmp_path: Path) -> Project:
    p = Project(tmp_path / "project")
    p.root.mkdir()
    p.advisory("ve", VE)
    p.advisory("co", CO)
    p.write_config(config_text())
    return p


@pytest.fixture
def smtp_project(project: Project, smtpd: Server) -> Project:
    project.write_config(config_text(delivery='transport = "smtp"', smtp=smtp_section(smtpd)))
    return project


def run_cli(
    *args: str,
    config: Path | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """`python -m advisory ARGS --config CONFIG` in a subprocess, as an operator runs it."""
    argv = [sys.executable, "-m", "advisory", *args]
    if config is not None:
        argv += ["--config", str(config)]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ADVISORY_")}
    full_env.update(env or {})
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=90, env=full_env, cwd=cwd or ROOT, check=False
    )


def parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg

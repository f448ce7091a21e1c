"""The one place we go past aiosmtplib's documented API: a connected client's transport
handed to our own protocol, `mail.session.Session` (docs/adr/0016). If these fail, read
aiosmtplib's changes to `SMTP.transport` before widening the pin in pyproject.toml."""

from __future__ import annotations

import asyncio
import re
import tomllib

import aiosmtplib
from support.project import ROOT
from support.smtp import Server

from advisory.mail.session import Session


def test_the_installed_aiosmtplib_is_the_one_pinned() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    [pin] = [d for d in project["dependencies"] if d.startswith("aiosmtplib")]
    low, high = re.fullmatch(r"aiosmtplib>=(\d+)\.0,<(\d+)", pin).groups()  # type: ignore[union-attr]
    major = int(aiosmtplib.__version__.split(".")[0])
    assert int(low) <= major < int(high), f"aiosmtplib {aiosmtplib.__version__} is not {pin}"


def test_a_connected_client_hands_its_transport_to_our_session(smtpd: Server) -> None:
    async def send() -> None:
        client = aiosmtplib.SMTP(hostname=smtpd.host, port=smtpd.port, start_tls=False)
        await client.connect()
        await client.ehlo()
        assert isinstance(client.transport, asyncio.Transport), "SMTP.transport is gone"
        assert client.supports_extension("size") or client.supports_extension("8bitmime")
        session = Session(client.transport, pipelining=client.supports_extension("pipelining"))
        await session.send(
            "a@example.org", "ana@example.org", b"Subject: hi\r\n\r\n.dot\r\n", timeout=10
        )
        await session.quit()

    asyncio.run(send())
    [received] = smtpd.handler.received
    assert received.message["Subject"] == "hi"
    assert received.message.get_content().strip() == ".dot"  # stuffed, and unstuffed there

"""The one place we go past aiosmtplib's documented API: DATA written through the
client's protocol (docs/adr/0006). If these fail, read aiosmtplib's changes to
`SMTPProtocol` before widening the pin in pyproject.toml."""

from __future__ import annotations

import asyncio
import inspect
import re
import tomllib

import aiosmtplib
from aiosmtplib.protocol import SMTPProtocol
from support.project import ROOT
from support.smtp import Server


def test_the_installed_aiosmtplib_is_the_one_pinned() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    [pin] = [d for d in project["dependencies"] if d.startswith("aiosmtplib")]
    low, high = re.fullmatch(r"aiosmtplib>=(\d+)\.0,<(\d+)", pin).groups()  # type: ignore[union-attr]
    major = int(aiosmtplib.__version__.split(".")[0])
    assert int(low) <= major < int(high), f"aiosmtplib {aiosmtplib.__version__} is not {pin}"


def test_a_connected_client_has_the_protocol_hook_we_write_through(smtpd: Server) -> None:
    assert "timeout" in inspect.signature(SMTPProtocol.read_response).parameters
    assert callable(SMTPProtocol.write)

    async def connected() -> object:
        client = aiosmtplib.SMTP(hostname=smtpd.host, port=smtpd.port, start_tls=False)
        await client.connect()
        try:
            return client.protocol
        finally:
            await client.quit()

    protocol = asyncio.run(connected())
    assert isinstance(protocol, SMTPProtocol), "SMTP.protocol is gone or is not SMTPProtocol"

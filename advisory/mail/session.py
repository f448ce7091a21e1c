"""Mail transactions on a connection aiosmtplib opened, pipelined where the server offers it.

aiosmtplib connects, says EHLO, starts TLS and logs in; then its transport is handed to
a `Session`, which pipelines when the server offers PIPELINING (RFC 2920): a message's
content and end go in one write with the next message's MAIL, RCPT and DATA, the
replies read in order. One round trip a message instead of four, and no per-command
machinery.
Its protocol keeps every reply that arrives (aiosmtplib's keeps one per command it
awaits, and loses the rest). Errors are aiosmtplib's own exceptions, for the transport's
one table to map; a reply out of step with the commands is an error of its own, and the
session is then done.
"""

from __future__ import annotations

import asyncio
from collections import deque

from aiosmtplib import (
    SMTPDataError,
    SMTPRecipientRefused,
    SMTPResponseException,
    SMTPSenderRefused,
    SMTPServerDisconnected,
)
from aiosmtplib.response import SMTPResponse

__all__ = ["OUT_OF_STEP", "Session", "framed", "stuffed"]

MAX_REPLY = 64 * 1024  # bytes of one reply, all its lines
OUT_OF_STEP = "the server answered out of step with the commands"


class Session(asyncio.Protocol):
    """One SMTP connection, after its greeting, EHLO, STARTTLS and AUTH."""

    def __init__(self, transport: asyncio.Transport, *, pipelining: bool) -> None:
        self.transport = transport
        self.pipelining = pipelining
        self._buffer = bytearray()
        self._replies: deque[SMTPResponse] = deque()
        self._asked = 0  # replies asked for and not read yet
        self._waiter: asyncio.Future[None] | None = None
        self._lost: str | None = None
        self._malformed: SMTPResponseException | None = None
        self._late = False  # a transaction ran past its time: the session is closed
        # The next message, whose MAIL, RCPT and DATA went with the last one's end: its
        # replies are read when it is sent, on this session and no other.
        self.announced: tuple[str, str] | None = None
        self.ended = False  # the message under way has had its content and end sent
        self.out_of_step = False  # a reply arrived that no command asked for
        transport.set_protocol(self)

    @property
    def usable(self) -> bool:
        """Whether another message may go on this session."""
        return (
            self._lost is None
            and self._malformed is None
            and not self.out_of_step
            and not self.transport.is_closing()
        )

    @property
    def turned_away(self) -> bool:
        """Whether the server answered the announced message's MAIL with 421 (closing,
        as some do after so many messages a connection): that message never began."""
        return self.announced is not None and bool(self._replies) and self._replies[0].code == 421

    # --- the protocol ----------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        try:
            while (reply := self._parse()) is not None:
                if len(self._replies) >= self._asked and reply.code == 421:
                    self._lost = self._lost or "the server is closing the connection"
                    continue  # said after every reply asked for (or idle): it is closing
                self._replies.append(reply)
        except SMTPResponseException as e:
            self._malformed = e
        if len(self._replies) > self._asked:
            self.out_of_step = True  # a reply no command asked for
        self._wake()

    def eof_received(self) -> bool:
        self._gone("Unexpected EOF received")
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._gone("Connection lost" if exc is None else f"Connection lost: {exc}")

    def _gone(self, why: str) -> None:
        self._lost = self._lost or why
        self._wake()

    def _expire(self) -> None:
        self._late = True
        self._gone("timed out")
        self.transport.close()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _parse(self) -> SMTPResponse | None:
        """The first whole reply in the buffer, taken out of it; None until one is whole."""
        lines, offset = [], 0
        while (end := self._buffer.find(b"\n", offset)) != -1:
            line = bytes(self._buffer[offset : end + 1])
            offset = end + 1
            if not line[:3].isdigit() or line[3:4] not in (b" ", b"-", b"\r", b"\n"):
                text = line.decode("utf-8", "replace").strip()
                raise SMTPResponseException(-1, f"Malformed SMTP response line: {text}")
            lines.append(line[4:].strip(b" \t\r\n"))
            if line[3:4] != b"-":
                del self._buffer[:offset]
                return SMTPResponse(
                    int(line[:3]), b"\n".join(lines).decode("utf-8", "surrogateescape")
                )
        if len(self._buffer) > MAX_REPLY:
            raise SMTPResponseException(-1, "Response too long")
        return None

    # --- commands --------------------------------------------------------------------

    def _write(self, data: bytes, replies: int) -> None:
        if self._lost is not None or self.transport.is_closing():
            raise SMTPServerDisconnected(self._lost or "Connection lost")
        self._asked += replies
        self.transport.write(data)

    async def _reply(self) -> SMTPResponse:
        """The next reply, in the order the commands went."""
        while not self._replies:
            if self._malformed is not None:
                raise self._malformed
            if self._late:
                raise TimeoutError
            if self._lost is not None:
                raise SMTPServerDisconnected(self._lost)
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        self._asked -= 1
        reply = self._replies.popleft()
        if self.out_of_step:
            raise SMTPResponseException(-1, OUT_OF_STEP)
        return reply

    async def command(self, line: bytes) -> SMTPResponse:
        """One command (CRLF added) and its reply."""
        self._write(line + b"\r\n", 1)
        return await self._reply()

    async def send(
        self, sender: str, recipient: str, data: bytes, wire: bytes | None = None, *,
        timeout: float, then: tuple[str, str] | None = None,
    ) -> None:  # fmt: skip
        """One message to one recipient, accepted once this returns.

        `data` is the message; `wire`, where given, the same as DATA carries it (see
        `framed`). `then` (sender, recipient): the message this session sends next,
        whose MAIL, RCPT and DATA go with this one's end, where the server pipelines:
        one write a message (RFC 2920 lets a group begin with a message's end), and
        `announced` holds it until it is sent. Raises SMTPSenderRefused,
        SMTPRecipientRefused or SMTPDataError with the server's reply;
        SMTPResponseException(-1) when the replies are out of step (the session is then
        unusable); SMTPServerDisconnected; TimeoutError once the whole transaction has
        taken `timeout` seconds (the session is then closed). (One timer of the loop's
        own: `asyncio.timeout` costs a few per cent of a fan-out.)
        """
        timer = asyncio.get_running_loop().call_later(timeout, self._expire)
        try:
            await self._transaction(sender, recipient, data, wire, then)
        finally:
            timer.cancel()

    async def _transaction(
        self, sender: str, recipient: str, data: bytes, wire: bytes | None,
        then: tuple[str, str] | None,
    ) -> None:  # fmt: skip
        self.ended = False
        if self.pipelining:
            if self.announced != (sender, recipient):
                assert self.announced is None, "a session announced for another message"
                self._write(_envelope(sender, recipient), 3)
            self.announced = None
            to_mail, to_rcpt, to_data = [await self._reply() for _ in range(3)]
        else:
            to_mail = to_rcpt = to_data = await self.command(b"MAIL FROM:<%s>" % sender.encode())
            if to_mail.code == 250:
                to_rcpt = to_data = await self.command(b"RCPT TO:<%s>" % recipient.encode())
                if to_rcpt.code in (250, 251):
                    to_data = await self.command(b"DATA")
        refused: SMTPResponseException | None = None
        if to_mail.code != 250:
            refused = SMTPSenderRefused(to_mail.code, to_mail.message, sender)
        elif to_rcpt.code not in (250, 251):
            refused = SMTPRecipientRefused(to_rcpt.code, to_rcpt.message, recipient)
        if 300 <= to_mail.code < 400 or 300 <= to_rcpt.code < 400 or 200 <= to_data.code < 300:
            # A go-ahead to MAIL or RCPT, an "ok" to DATA: these replies are not theirs.
            self.out_of_step = True
            raise SMTPResponseException(-1, OUT_OF_STEP)
        if to_data.code == 354 and refused is not None:
            # Pipelined DATA accepted with no recipient: end the empty message (RFC 2920,
            # 3.1); the caller resets the transaction.
            await self.command(b".")
        if refused is not None:
            raise refused
        if to_data.code != 354:
            raise SMTPDataError(to_data.code, to_data.message)
        end = framed(data) if wire is None else wire
        self.ended = True
        if then is not None and self.pipelining:
            self._write(end + _envelope(*then), 4)
            self.announced = then
        else:
            self._write(end, 1)
        done = await self._reply()
        if 300 <= done.code < 400:
            self.out_of_step = True
            raise SMTPResponseException(-1, OUT_OF_STEP)
        if done.code != 250:
            raise SMTPDataError(done.code, done.message)

    async def reset(self) -> bool:
        """RSET after a refusal: whether the session is fit for the next message."""
        return self.usable and (await self.command(b"RSET")).code == 250 and self.usable

    async def quit(self) -> None:
        try:
            await self.command(b"QUIT")
        finally:
            self.transport.close()


def _envelope(sender: str, recipient: str) -> bytes:
    return b"MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n" % (sender.encode(), recipient.encode())


def framed(data: bytes) -> bytes:
    """The message as DATA carries it: lines in CRLF, a leading dot doubled, the end."""
    crlf = data.count(b"\r\n")
    if data.count(b"\n") != crlf or data.count(b"\r") != crlf:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    data = stuffed(data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def stuffed(lines: bytes) -> bytes:
    """CRLF-ended lines with every dot that begins a line doubled (RFC 5321, 4.5.2)."""
    if lines.startswith(b".") or b"\r\n." in lines:
        lines = (b"." if lines.startswith(b".") else b"") + lines.replace(b"\r\n.", b"\r\n..")
    return lines

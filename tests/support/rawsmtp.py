"""An SMTP server on a raw socket, for the replies aiosmtpd will not write: bytes that are
not UTF-8, terminal escape sequences, reasons of any length; and a strict pipelining
server (RFC 2920) with its faults: a connection dropped after MAIL, replies out of step."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import BinaryIO


@dataclass
class RawSmtp:
    """Accepts every message but for the addresses in `refuse`, answered at RCPT with the
    bytes given (CRLF added).

    With `pipelining`, it offers PIPELINING and answers a transaction's MAIL only once
    it has read its RCPT and DATA too (a client waiting for each reply waits forever).
    Then, once each, for the recipients named: `drop_after_mail` answers MAIL and closes
    the connection; `twice` answers MAIL twice (out of step from there on);
    `drop_after_end` reads the message to its end and closes without a word; `refuse_end`
    answers its end with the bytes given. `ahead` counts the messages whose MAIL had
    come with the end of the one before, before that end was answered.
    """

    refuse: dict[str, bytes] = field(default_factory=dict)
    accepted: list[bytes] = field(default_factory=list)
    port: int = 0
    pipelining: bool = False
    drop_after_mail: set[str] = field(default_factory=set)
    twice: set[str] = field(default_factory=set)
    closing: set[str] = field(default_factory=set)  # accepted, then 421 in the same write
    drop_after_end: set[str] = field(default_factory=set)
    refuse_end: dict[str, bytes] = field(default_factory=dict)
    connections: int = 0
    ahead: int = 0

    def serve(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as lines:

            def say(reply: bytes) -> None:
                conn.sendall(reply + b"\r\n")

            def to(line: bytes) -> str:
                return line.partition(b"<")[2].partition(b">")[0].lower().decode()

            self.connections += 1
            say(b"220 raw.example.org ESMTP")
            for line in lines:
                verb = line[:4].upper()
                if verb == b"EHLO" and self.pipelining:
                    say(b"250-raw.example.org\r\n250 PIPELINING")
                elif verb in (b"EHLO", b"HELO"):
                    say(b"250 raw.example.org")
                elif verb == b"MAIL" and self.pipelining:
                    rcpt, data = lines.readline(), lines.readline()
                    if not (rcpt.upper().startswith(b"RCPT") and data.upper() == b"DATA\r\n"):
                        say(b"503 5.5.1 pipeline MAIL, RCPT and DATA")
                        continue
                    address = to(rcpt)
                    if address in self.drop_after_mail:
                        self.drop_after_mail.discard(address)
                        say(b"250 OK")
                        return
                    if address in self.twice:
                        self.twice.discard(address)
                        say(b"250 OK\r\n250 OK")
                    refused = self.refuse.get(address)
                    say(b"250 OK\r\n" + (refused or b"250 OK"))
                    if refused is not None:
                        say(b"554 5.5.1 no valid recipients")
                        continue
                    if address in self.closing:
                        self.closing.discard(address)
                        self._data(conn, lines, say, address, then=b"\r\n421 4.3.2 closing")
                        return
                    if not self._data(conn, lines, say, address):
                        return
                elif verb == b"MAIL":
                    say(b"250 OK")
                elif verb == b"RCPT":
                    say(self.refuse.get(to(line), b"250 OK"))
                elif verb == b"DATA":
                    self._data(conn, lines, say)
                elif verb == b"RSET":
                    say(b"250 OK")
                elif verb == b"QUIT":
                    say(b"221 bye")
                    return
                else:
                    say(b"502 not implemented")

    def _data(
        self, conn: socket.socket, lines: BinaryIO, say: Callable[[bytes], None],
        address: str = "", then: bytes = b"",
    ) -> bool:  # fmt: skip
        """One message's content to its end, answered: whether the session goes on."""
        say(b"354 go ahead")
        data = b""
        for part in lines:
            if part == b".\r\n":
                conn.setblocking(False)  # what the client sent with the end, if anything
                try:
                    self.ahead += lines.peek(4)[:4].upper() == b"MAIL"  # type: ignore[attr-defined]
                except BlockingIOError:
                    pass
                finally:
                    conn.setblocking(True)
                if address in self.drop_after_end:
                    self.drop_after_end.discard(address)
                    return False
                if (refusal := self.refuse_end.pop(address, None)) is not None:
                    say(refusal)
                    return True
                self.accepted.append(data)
                say(b"250 accepted" + then)
                return True
            data += part  # (a connection closed before the end delivers nothing)
        return False


@contextmanager
def raw_smtp(server: RawSmtp) -> Iterator[RawSmtp]:
    listener = socket.create_server(("127.0.0.1", 0))
    server.port = listener.getsockname()[1]
    stopping = threading.Event()

    def accept() -> None:
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=server.serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stopping.set()
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() under way
        listener.close()
        thread.join(timeout=5)

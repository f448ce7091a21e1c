"""An SMTP server on a raw socket, for the replies aiosmtpd will not write: bytes that are
not UTF-8, terminal escape sequences, reasons of any length."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class RawSmtp:
    """Accepts every message but for the addresses in `refuse`, answered at RCPT with the
    bytes given (CRLF added)."""

    refuse: dict[str, bytes] = field(default_factory=dict)
    accepted: list[bytes] = field(default_factory=list)
    port: int = 0

    def serve(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as lines:

            def say(reply: bytes) -> None:
                conn.sendall(reply + b"\r\n")

            say(b"220 raw.example.org ESMTP")
            for line in lines:
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    say(b"250 raw.example.org")
                elif verb == b"MAIL":
                    say(b"250 OK")
                elif verb == b"RCPT":
                    address = line.partition(b"<")[2].partition(b">")[0].lower().decode()
                    say(self.refuse.get(address, b"250 OK"))
                elif verb == b"DATA":
                    say(b"354 go ahead")
                    data = b""
                    for part in lines:
                        if part == b".\r\n":
                            break
                        data += part
                    self.accepted.append(data)
                    say(b"250 accepted")
                elif verb == b"RSET":
                    say(b"250 OK")
                elif verb == b"QUIT":
                    say(b"221 bye")
                    return
                else:
                    say(b"502 not implemented")


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

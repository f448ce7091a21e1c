"""Transports: put an `Envelope` into a local Maildir or hand it to an SMTP server.

With `session`, the only modules that know SMTP: aiosmtplib's errors are translated
here, once, into `TemporaryDeliveryError` (worth a retry) or `PermanentDeliveryError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import os
import secrets
import socket
import ssl
import stat
from pathlib import Path
from typing import Protocol, cast

import aiosmtplib

from advisory.domain.text import outside
from advisory.errors import DeliveryError, PermanentDeliveryError, TemporaryDeliveryError
from advisory.inputs.config import Config, Smtp
from advisory.mail.compose import Envelope
from advisory.mail.session import Session

__all__ = ["MaildirTransport", "SmtpTransport", "Transport", "open_transport"]


class Transport(Protocol):
    """Delivers one envelope or raises a `DeliveryError`; `concurrency` sends may overlap.

    Where `ahead`, `send` may be told the message its caller sends next (`then`): the
    caller then sends that one next, and `close` lets go of any it did not.
    """

    concurrency: int
    ahead: bool

    async def send(self, envelope: Envelope, then: Envelope | None = None) -> None: ...

    async def close(self) -> None: ...


class MaildirTransport:
    """Standard Maildir (tmp/ -> new/), readable by any mail client, private to its owner.

    The name in new/ derives from the delivery, so a rerun after a crash between the
    rename and the outbox's record finds the file there and adds no copy; a file of that
    name counts as this delivery only if it is a plain file of ours holding this
    message's Message-ID. Nothing is followed through a symbolic link, nothing is
    written over, and a failed write leaves nothing behind in tmp/.
    """

    concurrency = 1
    ahead = False

    def __init__(self, path: Path) -> None:
        self.path = path
        self._host = socket.gethostname().replace("/", "_").replace(":", "_") or "localhost"
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)  # may be a link: the owner's
            for sub in ("tmp", "new", "cur"):
                folder = path / sub
                folder.mkdir(mode=0o700, exist_ok=True)
                if folder.is_symlink() or not folder.is_dir():
                    raise NotADirectoryError(errno.ENOTDIR, "not a folder of its own", str(folder))
        except OSError as e:
            raise TemporaryDeliveryError(
                f"cannot use Maildir {path}: {e.strerror}{_where(e, path)}"
            ) from None

    async def send(self, envelope: Envelope, then: Envelope | None = None) -> None:
        digest = hashlib.sha256(envelope.delivery_key.encode()).hexdigest()[:24]
        name = f"{digest}.{self._host}"
        new = self.path / "new" / name
        # tmp/ holds a name of its own per attempt: nobody's file there is ever opened.
        tmp = self.path / "tmp" / f"{name}.{os.getpid()}.{secrets.token_hex(6)}"
        data = envelope.data.replace(b"\r\n", b"\n")
        try:
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                try:
                    os.link(tmp, new, follow_symlinks=False)
                except FileExistsError:
                    if not _ours(new, envelope.message_id):
                        raise PermanentDeliveryError(
                            f"Maildir {self.path}: new/{name} exists and is not this message; "
                            "not overwritten",
                            recipient=envelope.recipient,
                        ) from None
                    # else delivered before the outbox could record it: keep the one copy
            finally:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
            _fsync_dir(self.path / "new")
        except OSError as e:
            raise TemporaryDeliveryError(
                f"cannot write to Maildir {self.path}: {e.strerror}", recipient=envelope.recipient
            ) from None

    async def close(self) -> None:
        return None


def _ours(path: Path, message_id: str) -> bool:
    """A plain file (no link), owned by us, whose header has this Message-ID."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    with os.fdopen(fd, "rb") as f:
        facts = os.fstat(f.fileno())
        if not stat.S_ISREG(facts.st_mode) or facts.st_uid != os.geteuid():
            return False
        head = f.read(64 * 1024).partition(b"\n\n")[0]
    return f"\nMessage-ID: {message_id}\n".encode() in b"\n" + head + b"\n"


def _where(error: OSError, path: Path) -> str:
    return f" ({error.filename})" if error.filename and str(error.filename) != str(path) else ""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SmtpTransport:
    """aiosmtplib opens each connection; our `Session` sends on it, pipelined where offered.

    Connections are kept open and reused. `smtp.timeout` bounds a connection's setup,
    and each message's whole transaction.

    `starttls` is required, never opportunistic: a server that does not offer it
    is an error, not a fallback to plain text.

    A message whose commands went with the end of the one before it (`then`) is sent
    on that session; where that broke, or the server turned it away (421), before its
    content went, on another at once: nothing of it was sent.
    """

    ahead = True

    def __init__(self, smtp: Smtp, password: str | None = None) -> None:
        self.smtp = smtp
        self.password = password
        self.concurrency = smtp.connections
        self._idle: list[Session] = []
        self._held: dict[str, Session] = {}  # a message announced -> its session
        self._tls = _tls_context(smtp) if smtp.security != "none" else None

    async def _connect(self) -> Session:
        s = self.smtp
        client = aiosmtplib.SMTP(
            hostname=s.host.strip("[]"),
            port=s.port,
            timeout=s.timeout,
            use_tls=s.security == "tls",
            start_tls=s.security == "starttls",
            validate_certs=s.verify,
            tls_context=self._tls,
        )
        try:
            await client.connect()
            if s.username:
                await client.login(s.username, self.password or "")
            if client.is_ehlo_or_helo_needed:
                try:
                    await client.ehlo()
                except aiosmtplib.SMTPHeloError:
                    await client.helo()
            transport = client.transport
            if transport is None:
                raise aiosmtplib.SMTPServerDisconnected("Connection lost")
        except aiosmtplib.SMTPAuthenticationError as e:
            client.close()
            raise TemporaryDeliveryError(
                f"{s.host}:{s.port} refused the login: {e.code} {outside(e.message, 500)}",
                code=e.code,
            ) from None
        except (aiosmtplib.SMTPException, OSError) as e:
            client.close()
            # Even a 5xx greeting is about the server, not the message: keep it queued.
            error = _translate(e, "", f"cannot connect to {s.host}:{s.port}")
            raise TemporaryDeliveryError(error.reason, code=error.code) from None
        # (uvloop's transports are not asyncio.Transport's subclasses, but alike)
        session = cast(asyncio.Transport, transport)
        return Session(session, pipelining=client.supports_extension("pipelining"))

    async def send(self, envelope: Envelope, then: Envelope | None = None) -> None:
        held = self._held.pop(envelope.delivery_key, None)
        if held is not None:
            if (
                held.usable
                and not held.turned_away
                and await self._send_on(held, envelope, then, begun=True)
            ):
                return
            held.transport.close()  # its commands came to nothing there: it goes on another
        session = None
        while session is None and self._idle:  # one the server closed meanwhile is let go
            if not (session := self._idle.pop()).usable:
                session.transport.close()
                session = None
        await self._send_on(session or await self._connect(), envelope, then)

    async def _send_on(
        self, session: Session, envelope: Envelope, then: Envelope | None, begun: bool = False
    ) -> bool:
        """Sent, or a `DeliveryError`. `begun`: the message's commands went with the end
        of the one before; False where that connection broke before its content went."""
        after = (then.sender, then.recipient) if then is not None else None
        try:
            # One recipient per transaction, under one timer for the whole transaction.
            await session.send(envelope.sender, envelope.recipient, envelope.data,
                               envelope.wire, timeout=self.smtp.timeout, then=after)  # fmt: skip
        except (aiosmtplib.SMTPException, OSError) as e:
            if begun and not session.ended and isinstance(e, aiosmtplib.SMTPServerDisconnected):
                return False  # (nothing of it was sent)
            error = _translate(e, envelope.recipient, "delivery failed")
            # No code, a malformed reply (-1) or 421: the session is done; after a refusal
            # it goes on if it resets cleanly, or at once if the refusal ended the message
            # and the next one's commands went with its end.
            reusable = error.code is not None and error.code >= 0 and error.code != 421
            if reusable and session.announced is not None and then is not None:
                self._held[then.delivery_key] = session
                raise error from None
            if reusable:
                try:
                    async with asyncio.timeout(self.smtp.timeout):
                        reusable = await session.reset()
                except (aiosmtplib.SMTPException, OSError):
                    reusable = False
                except BaseException:  # cancelled meanwhile
                    session.transport.close()
                    raise
            if not reusable:
                session.transport.close()
            else:
                self._idle.append(session)
            raise error from None
        except BaseException:  # timed out or cancelled mid-transaction: its state is unknown
            session.transport.close()
            raise
        if session.announced is not None and then is not None:
            self._held[then.delivery_key] = session
        else:
            self._idle.append(session)
        return True

    async def close(self) -> None:
        for session in self._held.values():  # (a message begun, never ended: not sent)
            session.transport.close()
        self._held.clear()
        idle, self._idle = self._idle, []
        for session in idle:
            try:
                await asyncio.wait_for(session.quit(), timeout=min(self.smtp.timeout, 5))
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                session.transport.close()


def _tls_context(smtp: Smtp) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if smtp.ca_file is not None:
        context.load_verify_locations(cafile=str(smtp.ca_file))
    if not smtp.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _translate(error: BaseException, recipient: str, context: str) -> DeliveryError:
    """The one table from aiosmtplib's errors to ours: 5xx permanent, all else temporary."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused) and error.recipients:
        error = error.recipients[0]
    at_rcpt = isinstance(error, aiosmtplib.SMTPRecipientRefused)
    if isinstance(error, aiosmtplib.SMTPResponseException):
        code = f"{error.code} " if error.code >= 0 else ""  # (-1: no reply, or a malformed one)
        reason = f"{context}: {code}{outside(error.message, 500)}"
        # Only the recipient's or the message's own refusal is permanent; a refused
        # sender is the operator's to fix, and the message stays queued meanwhile.
        permanent = 500 <= error.code < 600 and not isinstance(error, aiosmtplib.SMTPSenderRefused)
        kind = PermanentDeliveryError if permanent else TemporaryDeliveryError
        return kind(reason, recipient=recipient, code=error.code, at_rcpt=at_rcpt)
    if isinstance(error, ssl.SSLError | ssl.CertificateError):
        return TemporaryDeliveryError(f"{context}: TLS: {outside(str(error))}", recipient=recipient)
    if isinstance(error, TimeoutError):
        return TemporaryDeliveryError(f"{context}: timed out", recipient=recipient)
    if isinstance(error, aiosmtplib.SMTPServerDisconnected):
        return TemporaryDeliveryError(
            f"{context}: the server closed the connection ({outside(str(error))})",
            recipient=recipient,
        )
    text = outside(str(error), 500) or type(error).__name__
    return TemporaryDeliveryError(f"{context}: {text}", recipient=recipient)


def open_transport(config: Config) -> Transport:
    if config.delivery.transport == "smtp":
        password = config.smtp_password.get_secret_value() if config.smtp_password else None
        return SmtpTransport(config.smtp, password)
    return MaildirTransport(config.delivery.maildir)

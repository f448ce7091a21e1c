"""Rendered parts -> a complete email: headers, MIME structure, envelope.

Built with the standard `email` package. Every header value is folded to one
line first, so no name or title can add or break a header. Pure: the time is passed in.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from advisory.domain.models import ACK_MARK, TOKEN_MARK, Letterhead
from advisory.mail.rendering import Rendered

__all__ = ["Envelope", "Reader", "compose", "message_key", "to_field"]


@dataclass(frozen=True, slots=True)
class Envelope:
    """What a transport delivers: explicit envelope addresses and the message bytes (CRLF)."""

    message_id: str
    sender: str
    recipient: str
    data: bytes
    # Distinguishes a deliberate resend (--force) from a retry of the same delivery.
    delivery_key: str
    # What SMTP's DATA carries (a leading dot doubled, the end line added), where the fast
    # path made it beside `data`: sent as it is, with no scan of the whole message.
    wire: bytes | None = None


# Fold headers at the RFC 5322 limit, so a long List-Unsubscribe URL stays one readable URL.
_POLICY = SMTP.clone(max_line_length=998)


def message_key(recipient: str, topic: str, kind: str) -> str:
    """Stable per (recipient, advisory version or digest period, format): the outbox's key.

    The Message-ID is this key at the sender's domain, so retries and reruns reuse it,
    and a change of sender address does not make anything due again.
    """
    return hashlib.sha256(f"{recipient.lower()}\n{topic}\n{kind}".encode()).hexdigest()[:32]


def _line(value: str) -> str:
    return " ".join(value.split())


def to_field(name: str, address: str) -> bytes:
    """The value of `To` exactly as `compose` folds it (for the fast path's long names)."""
    header = _POLICY.header_factory("To", Address(_line(name), addr_spec=address))
    return _POLICY.fold_binary("To", header).removeprefix(b"To: ").removesuffix(b"\r\n")


@dataclass(frozen=True, slots=True)
class Reader:
    """Whom one message is for, and what the outbox knows it by."""

    name: str
    address: str
    key: str
    date: datetime  # when the message was first queued: its Date header
    token: str = ""  # their unsubscribe token, in place of TOKEN_MARK
    resends: int = 0
    ack: str = ""  # their acknowledgement token, in place of ACK_MARK

    def fill(self, text: str) -> str:
        """`text` with this reader's tokens in place of their marks."""
        return text.replace(TOKEN_MARK, self.token).replace(ACK_MARK, self.ack)


def compose(rendered: Rendered, letterhead: Letterhead, reader: Reader) -> Envelope:
    """The whole message, built by the `email` package (the reference for `splice`)."""
    msgid = f"<{reader.key}@{letterhead.domain}>"
    subject, text = reader.fill(rendered.subject), reader.fill(rendered.text)
    html = reader.fill(rendered.html) if rendered.html is not None else None
    msg = EmailMessage()
    msg["From"] = Address(_line(letterhead.name), addr_spec=letterhead.address)
    msg["To"] = Address(_line(reader.name), addr_spec=reader.address)
    if letterhead.reply_to:
        msg["Reply-To"] = letterhead.reply_to
    msg["Subject"] = _line(subject)
    msg["Date"] = format_datetime(reader.date)
    msg["Message-ID"] = msgid
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    if links := letterhead.list_unsubscribe:
        msg["List-Unsubscribe"] = links.replace(TOKEN_MARK, reader.token)
        if letterhead.one_click:
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(text, cte="quoted-printable")
    if html is not None:
        msg.add_alternative(html, subtype="html", cte="quoted-printable")
    return Envelope(
        message_id=msgid,
        sender=letterhead.envelope_sender(reader.token),
        recipient=reader.address,
        data=msg.as_bytes(policy=_POLICY),
        delivery_key=f"{reader.key}#{reader.resends}",
    )

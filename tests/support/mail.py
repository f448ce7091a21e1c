"""Composing one message both ways: the per-group fast path and the `email` package."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

from advisory.domain.models import Letterhead, Subscriber
from advisory.mail.compose import Envelope, Reader, compose
from advisory.mail.splice import Splicer
from support.models import HEAD

WHEN = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


def headers_and_parts(msg: EmailMessage) -> tuple[dict[str, str], list[tuple[str, str]]]:
    names = ("From", "To", "Reply-To", "Subject", "Date", "Message-ID", "Auto-Submitted",
             "X-Auto-Response-Suppress", "List-Unsubscribe", "List-Unsubscribe-Post",
             "MIME-Version")  # fmt: skip
    head = {name: str(msg[name]) for name in names}
    parts = [(p.get_content_type(), p.get_content()) for p in msg.walk() if not p.is_multipart()]
    return head, parts


def both(
    sub: Subscriber, render: object, group: object = "g", head: Letterhead = HEAD
) -> tuple[Envelope, Envelope]:
    assert callable(render)
    splicer = Splicer(head)
    template = splicer.template(group, render, sub)  # type: ignore[arg-type]
    assert template is not None
    ack = head.ack_token(sub.key, "v1") if head.acks else ""
    reader = Reader(sub.name, sub.email, "k", WHEN, head.token(sub.key), ack=ack)
    fast = splicer.envelope(template, reader)
    slow = compose(render(sub), head, reader)
    return fast, slow

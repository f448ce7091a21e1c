"""The fast path: a message composed once per group of readers, each reader spliced in.

Readers who get the same advisory version, change, format and footer get the same
message but for the `To`, `Date`, `Message-ID` and `List-Unsubscribe` headers and their
own address and unsubscribe token in the footer. The standard `email` package builds it
once with placeholders; here each placeholder's quoted-printable form is replaced by the
reader's address or token, set on lines of its own with soft line breaks, so every line
stays within RFC 2045's 76 characters. Pure: no I/O. Anything the splice cannot place
exactly (a template that uses the reader's name in the body, say) falls back to the
`email` package.
"""

from __future__ import annotations

import re
from base64 import b64encode
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import datetime
from email.utils import format_datetime, formataddr
from typing import Final

from markupsafe import escape

from advisory.domain.models import (
    ACK_MARK,
    ADDRESS_MARK,
    NAME_MARK,
    TOKEN_MARK,
    Letterhead,
    Subscriber,
)
from advisory.mail.compose import Envelope, Reader, compose, to_field
from advisory.mail.rendering import Rendered
from advisory.mail.session import stuffed

__all__ = ["Splicer"]

_QP_ADDRESS: Final = b"=EF=B7=90"  # ADDRESS_MARK, quoted-printable
_QP_TOKEN: Final = b"=EF=B7=92"  # TOKEN_MARK
_QP_ACK: Final = b"=EF=B7=93"  # ACK_MARK
_CUTS: Final = re.compile(b"(" + _QP_ADDRESS + b"|" + _QP_TOKEN + b"|" + _QP_ACK + b")")
_READERS: Final = (ADDRESS_MARK, TOKEN_MARK, ACK_MARK)  # each reader's own, in the body
_PER_READER: Final = (b"to:", b"date:", b"message-id:", b"list-unsubscribe:")
_EPOCH: Final = datetime.fromtimestamp(0).astimezone()


def _qp(value: str) -> bytes:
    """An ASCII value as quoted-printable on lines of its own (soft breaks around it)."""
    if len(value) <= 73 and "=" not in value:
        return b"=\r\n" + value.encode("ascii") + b"=\r\n"
    lines, line = [], b""
    for char in value:
        token = b"=3D" if char == "=" else char.encode("ascii")
        if len(line) + len(token) > 73:  # never split an escape across a soft break
            lines.append(line)
            line = b""
        line += token
    lines.append(line)
    return b"=\r\n" + b"=\r\n".join(lines) + b"=\r\n"


def _to(name: str, address: str) -> str:
    """`To` on one line: a name not in ASCII as one base64 encoded word (RFC 2047). The
    `email` package weighs Q against B encoding byte by byte for each; either reads alike."""
    if name.isascii():
        return formataddr((name, address))
    return f"=?utf-8?b?{b64encode(name.encode()).decode('ascii')}?= <{address}>"


class _Template:
    """One group's message, cut where each reader's parts go."""

    def __init__(self, data: bytes) -> None:
        head, _, body = data.partition(b"\r\n\r\n")
        fields: list[bytes] = []
        for line in head.split(b"\r\n"):
            if line[:1] in (b" ", b"\t") and fields:
                fields[-1] += b"\r\n" + line
            else:
                fields.append(line)
        self.head = b"".join(f + b"\r\n" for f in fields if not f.lower().startswith(_PER_READER))
        html_at = body.find(b"Content-Type: text/html")
        cuts = _CUTS.split(body)
        self.pieces = cuts[::2]
        # The same as DATA carries it, dots doubled once for every reader. Each piece
        # begins a line: after the blank line, or after a reader's part (a soft break).
        parts = (self.head, *self.pieces)
        crlf = all(p.count(b"\r") == p.count(b"\r\n") == p.count(b"\n") for p in parts)
        self.wire: list[bytes] | None = None
        if crlf and body.endswith(b"\r\n"):
            self.wire = [stuffed(piece) for piece in self.pieces]
            self.wire[-1] += b".\r\n"
        # What goes in each cut: 0 the address, 1 the address escaped for HTML, 2 the
        # unsubscribe token, 3 the acknowledgement token.
        self.slots: list[int] = []
        offset = 0
        for piece, cut in zip(cuts[::2], cuts[1::2], strict=False):
            offset += len(piece) + len(cut)
            tokens = {_QP_TOKEN: 2, _QP_ACK: 3}
            self.slots.append(tokens.get(cut, int(0 <= html_at < offset)))

    def fill(
        self, to: bytes, date: bytes, msgid: bytes, extra: bytes, address: str, token: str,
        ack: str = "",
    ) -> tuple[bytes, bytes | None]:  # fmt: skip
        """The reader's message, and the same as DATA carries it (where it can be made)."""
        heads = [self.head, b"To: ", to, b"\r\nDate: ", date, b"\r\nMessage-ID: ", msgid,
                 b"\r\n", extra, b"\r\n"]  # fmt: skip
        out, wire = [*heads, self.pieces[0]], None if self.wire is None else [*heads, self.wire[0]]
        if self.slots:
            values = (_qp(address), _qp(str(escape(address))), _qp(token), _qp(ack))
            for piece, slot in zip(self.pieces[1:], self.slots, strict=True):
                out += (values[slot], piece)
            if wire is not None:
                assert self.wire is not None
                doubled = [stuffed(value) for value in values]  # (a long address's dot)
                for piece, slot in zip(self.wire[1:], self.slots, strict=True):
                    wire += (doubled[slot], piece)
        return b"".join(out), None if wire is None else b"".join(wire)


class Splicer:
    """Composes messages for many readers; a group's template is built on first use."""

    def __init__(self, letterhead: Letterhead, size: int = 512) -> None:
        self.letterhead = letterhead
        self.size = size
        self._templates: OrderedDict[Hashable, _Template | None] = OrderedDict()
        self._dates: dict[float, bytes] = {}

    def template(
        self, group: Hashable, render: Callable[[Subscriber], Rendered], reader: Subscriber
    ) -> _Template | None:
        """The group's template, or None where only the `email` package can compose it."""
        if group in self._templates:
            self._templates.move_to_end(group)
            return self._templates[group]
        stand_in = reader.model_copy(update={"email": ADDRESS_MARK, "name": NAME_MARK})
        rendered: Rendered = render(stand_in)
        long = ADDRESS_MARK * 64
        longer: Rendered = render(stand_in.model_copy(update={"email": long}))
        same_layout = all(
            (b or "").replace(long, ADDRESS_MARK) == (a or "")
            for a, b in zip(
                (rendered.subject, rendered.text, rendered.html),
                (longer.subject, longer.text, longer.html),
                strict=True,
            )
        )
        # Where the address's length moves other text (wrapping), splicing would not be exact.
        template = self._cut(rendered) if same_layout else None
        self._templates[group] = template
        if len(self._templates) > self.size:
            self._templates.popitem(last=False)
        return template

    def _cut(self, rendered: Rendered) -> _Template | None:
        text = rendered.subject + rendered.text + (rendered.html or "")
        if NAME_MARK in text or any(mark in rendered.subject for mark in _READERS):
            return None  # the reader's name is in the body: compose each one in full
        link = (self.letterhead.list_unsubscribe or "").replace(TOKEN_MARK, "x" * 22)
        if len(link) > 900 or not link.isascii():
            return None  # the email package would fold or encode List-Unsubscribe
        stand_in = Reader("x", "x@example.org", "x", _EPOCH, token=TOKEN_MARK, ack=ACK_MARK)
        template = _Template(compose(rendered, self.letterhead, stand_in).data)
        if len(template.pieces) - 1 != sum(text.count(mark) for mark in _READERS):
            return None  # the encoder split a placeholder: no exact splice
        return template

    def envelope(self, template: _Template, reader: Reader) -> Envelope:
        head = self.letterhead
        msgid = f"<{reader.key}@{head.domain}>"
        stamp = reader.date.timestamp()
        if (date_bytes := self._dates.get(stamp)) is None:
            if len(self._dates) > 4096:
                self._dates.clear()
            date_bytes = self._dates[stamp] = format_datetime(reader.date).encode()
        to = _to(" ".join(reader.name.split()), reader.address)
        # One encoded word per name is fine while short; a long one is folded as the
        # `email` package folds it (a 300-character name is no 1,200-character line).
        raw = to.encode("ascii") if len(to) <= 72 else to_field(reader.name, reader.address)
        links = head.list_unsubscribe
        extra = f"List-Unsubscribe: {links.replace(TOKEN_MARK, reader.token)}\r\n" if links else ""
        data, wire = template.fill(
            raw, date_bytes, msgid.encode(),
            extra.encode("ascii"), reader.address, reader.token, reader.ack,
        )  # fmt: skip
        sender = head.envelope_sender(reader.token)
        key = f"{reader.key}#{reader.resends}"
        return Envelope(msgid, sender, reader.address, data, key, wire)

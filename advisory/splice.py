"""The fast path: a message composed once per group of readers, each reader spliced in.

Readers who get the same advisory version, change, format and footer get the same
message but for the `To`, `Date` and `Message-ID` headers and their own address in the
footer. The standard `email` package builds it once with a placeholder address; here
that placeholder's quoted-printable form is replaced by each reader's address, set on
lines of its own with soft line breaks, so every line stays within RFC 2045's 76
characters. Pure: no I/O. Anything the splice cannot place exactly (a template that
uses the reader's name in the body, say) falls back to the `email` package.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import datetime
from email.utils import format_datetime, formataddr
from typing import Final

from markupsafe import escape

from advisory.compose import Envelope, Reader, compose
from advisory.models import Letterhead, Subscriber
from advisory.rendering import Rendered

__all__ = ["PLACEHOLDER", "Splicer"]

PLACEHOLDER: Final = "\ue000"  # a private-use character no template or advisory contains
_QP_PLACEHOLDER: Final = b"=EE=80=80"
_NAME: Final = "\ue001"
_PER_READER: Final = (b"to:", b"date:", b"message-id:")
_EPOCH: Final = datetime.fromtimestamp(0).astimezone()


def _qp(value: str) -> bytes:
    """An ASCII value as quoted-printable on lines of its own (soft breaks around it)."""
    lines, line = [], b""
    for char in value:
        token = b"=3D" if char == "=" else char.encode("ascii")
        if len(line) + len(token) > 73:  # never split an escape across a soft break
            lines.append(line)
            line = b""
        line += token
    lines.append(line)
    return b"=\r\n" + b"=\r\n".join(lines) + b"=\r\n"


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
        self.pieces = body.split(_QP_PLACEHOLDER)
        self.in_html: list[bool] = []
        offset = 0
        for piece in self.pieces[:-1]:
            offset += len(piece) + len(_QP_PLACEHOLDER)
            self.in_html.append(0 <= html_at < offset)
        self.body = b"\r\n" + body

    def fill(self, to: bytes, date: bytes, msgid: bytes, address: str) -> bytes:
        if len(self.pieces) == 1:
            body = self.body
        else:
            plain, html = _qp(address), _qp(str(escape(address)))
            out = [b"\r\n", self.pieces[0]]
            for piece, in_html in zip(self.pieces[1:], self.in_html, strict=True):
                out += (html if in_html else plain, piece)
            body = b"".join(out)
        return b"".join((self.head, b"To: ", to, b"\r\nDate: ", date, b"\r\nMessage-ID: ",
                         msgid, b"\r\n", body))  # fmt: skip


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
        stand_in = reader.model_copy(update={"email": PLACEHOLDER, "name": _NAME})
        rendered: Rendered = render(stand_in)
        long = PLACEHOLDER * 64
        longer: Rendered = render(stand_in.model_copy(update={"email": long}))
        same_layout = all(
            (b or "").replace(long, PLACEHOLDER) == (a or "")
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
        if _NAME in text or PLACEHOLDER in rendered.subject:
            return None  # the reader's name is in the body: compose each one in full
        data = compose(rendered, self.letterhead, Reader("x", "x@example.org", "x", _EPOCH)).data
        template = _Template(data)
        if len(template.pieces) - 1 != text.count(PLACEHOLDER):
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
        to = formataddr((" ".join(reader.name.split()), reader.address), charset="utf-8")
        data = template.fill(
            to.replace("\n", "\r\n").encode("ascii"), date_bytes, msgid.encode(), reader.address
        )
        return Envelope(msgid, head.address, reader.address, data, f"{reader.key}#{reader.resends}")

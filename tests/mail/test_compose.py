"""Composed messages: headers that cannot be broken, stable Message-IDs, MIME structure."""

from __future__ import annotations

from datetime import UTC, datetime

from support.models import HEAD, RENDERER, advisory, reader
from support.project import parse

from advisory.domain.models import Format, Letterhead
from advisory.mail.compose import Reader, compose, message_key
from advisory.mail.rendering import Rendered

WHEN = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def test_message_key_depends_on_recipient_version_and_format_only() -> None:
    a = message_key("Ana@Example.org", "v1", "html")
    assert a == message_key("ana@example.org", "v1", "html")
    others = {message_key("ben@example.org", "v1", "html"),
              message_key("ana@example.org", "v2", "html"),
              message_key("ana@example.org", "v1", "text")}  # fmt: skip
    assert a not in others and len(others) == 3


def test_header_values_cannot_be_broken_by_line_breaks() -> None:
    rendered = Rendered("Subject\r\nBcc: victim@example.org", "body\n")
    env = compose(rendered, HEAD, Reader("Ana\r\nBcc: victim@example.org", "ana@example.org",
                                         "x", WHEN))  # fmt: skip
    msg = parse(env.data)
    assert msg["Bcc"] is None
    assert msg["To"].addresses[0].addr_spec == "ana@example.org"
    assert msg["Subject"] == "Subject Bcc: victim@example.org"
    assert env.recipient == "ana@example.org"


def test_non_ascii_names_round_trip_and_parts_are_quoted_printable() -> None:
    sub = reader(Format.HTML, name="Zoë Ñúñez 李")
    env = compose(RENDERER.render(advisory(), sub, HEAD), HEAD,
                  Reader(sub.name, sub.email, "y", WHEN))  # fmt: skip
    msg = parse(env.data)
    assert msg["To"].addresses[0].display_name == "Zoë Ñúñez 李"
    assert msg["Date"].datetime == WHEN
    assert msg["Message-ID"] == "<y@example.org>"
    assert all(byte < 128 for byte in env.data)  # 7-bit clean: any relay takes it
    assert [p["Content-Transfer-Encoding"] for p in msg.iter_parts()] == ["quoted-printable"] * 2
    assert b"\r\n" in env.data and b"\n" not in env.data.replace(b"\r\n", b"")


def test_a_long_unsubscribe_url_stays_one_readable_url() -> None:
    url = "https://example.org/unsubscribe?token=" + "a1b2c3d4" * 20
    head = Letterhead("advisories@example.org", "Desk", None, url)
    env = compose(Rendered("S", "body\n"), head, Reader("Ana", "ana@example.org", "k", WHEN))
    assert parse(env.data)["List-Unsubscribe"] == f"<{url}>"

"""The fast path and the plain `email`-package path must deliver the same message."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from support.mail import both, headers_and_parts
from support.models import ACKS, HEAD, ONE_CLICK, RENDERER, advisory, reader
from support.project import parse

from advisory.domain.changes import what_changed
from advisory.domain.models import Format, Letterhead, Subscriber, Trip
from advisory.mail.compose import Envelope
from advisory.mail.rendering import TEMPLATES, Rendered, Renderer, wrap
from advisory.mail.session import framed
from advisory.mail.splice import Splicer

READERS = [
    ("Ana Pérez", "ana@example.org"),
    ("李小龙", "li@example.org"),
    ('"Okafor, Ben" <ben@evil.example.org>', "ben+travel=vip@example.org"),
    ("O'Brien & Sons <b>", "o'brien&sons@example.org"),
    ("Zoë " * 40, "a-very-long-local-part-" + "x" * 60 + "@example.org"),
    ("Equals", "a" * 10 + "=" * 30 + "@example.org"),  # escapes that reach a line break
    ("李" * 300, "li@example.org"),  # one encoded word would be a 1,228-character line
    ("Zoë Ångström-" * 23, "zoe@example.org"),
    ("Dot", "a" * 64 + "@abcdefgh.example.org"),  # its second line begins with a dot
]


@pytest.mark.parametrize("head", [HEAD, ONE_CLICK, ACKS], ids=["token-uri", "one-click", "acks"])
@pytest.mark.parametrize("fmt", list(Format))
@pytest.mark.parametrize(("name", "address"), READERS)
def test_fast_path_matches_the_email_package(
    fmt: Format, name: str, address: str, head: Letterhead
) -> None:
    sub = reader(fmt, name=name, email=address, countries=["VE", "CO"], min_level=3)
    old, new = advisory(level=3, risks=["crime"]), advisory(risks=["crime", "detention"])
    change = what_changed(old, new)
    trip = Trip(country="VE", start=date(2026, 12, 3), end=date(2026, 12, 10))
    asks = head.acks is not None  # a traveller's alert, asking them to confirm
    for render in (
        lambda s: RENDERER.render(new, s, head, change, trip=trip if asks else None, ack=asks),
        lambda s: RENDERER.render_digest([new, advisory(country="CO", level=3)], s, head),
    ):
        fast, slow = both(sub, render, head=head)
        assert headers_and_parts(parse(fast.data)) == headers_and_parts(parse(slow.data))
        assert (fast.recipient, fast.sender, fast.message_id) == (
            slow.recipient, slow.sender, slow.message_id,
        )  # fmt: skip
        assert max(len(line) for line in fast.data.split(b"\r\n")) <= 998
        assert all(byte < 128 for byte in fast.data)
        assert slow.wire is None  # (DATA frames the email package's message in full)
        on_the_wire(fast)


def on_the_wire(envelope: Envelope) -> None:
    """The fast path made the DATA form beside the message: the message, framed in full."""
    assert envelope.wire is not None and envelope.wire == framed(envelope.data)


@settings(max_examples=150, deadline=None)
@given(
    name=st.text(min_size=1, max_size=60),
    local=st.text(alphabet="abcxyz0189.+-=_&'", min_size=1, max_size=40),
    fmt=st.sampled_from(Format),
)
def test_fast_path_matches_for_any_name_and_address(name: str, local: str, fmt: Format) -> None:
    try:
        sub = reader(fmt, name=name, email=f"{local}@example.org")
    except ValidationError:
        assume(False)
        raise
    fast, slow = both(sub, lambda s: RENDERER.render(advisory(), s, HEAD))
    assert headers_and_parts(parse(fast.data)) == headers_and_parts(parse(slow.data))
    on_the_wire(fast)


def test_a_template_that_uses_the_name_in_the_body_is_composed_in_full(tmp_path: Path) -> None:
    for name in TEMPLATES:
        shutil.copy(Path(RENDERER.folder) / name, tmp_path / name)
    text = (tmp_path / "email.txt").read_text()
    (tmp_path / "email.txt").write_text("Dear {{ subscriber.name }},\n\n" + text)
    custom = Renderer(tmp_path)
    sub = reader(Format.TEXT)
    assert Splicer(HEAD).template("g", lambda s: custom.render(advisory(), s, HEAD), sub) is None


def test_a_template_that_wraps_the_address_is_composed_in_full() -> None:
    def render(s: Subscriber) -> Rendered:
        out = RENDERER.render(advisory(), s, HEAD)
        words = f"Dear reader, this message goes to {s.email} and nobody else at all, ok."
        return Rendered(out.subject, wrap(words, 40) + "\n", None)

    assert Splicer(HEAD).template("g", render, reader(Format.TEXT)) is None


def test_tokens_are_per_reader_and_hidden_without_a_uri_that_asks_for_one() -> None:
    sub = reader(Format.HTML)
    fast, _ = both(sub, lambda s: RENDERER.render(advisory(), s, HEAD))
    other, _ = both(
        reader(Format.HTML, email="Li@Example.org"), lambda s: RENDERER.render(advisory(), s, HEAD)
    )
    mine, theirs = parse(fast.data)["List-Unsubscribe"], parse(other.data)["List-Unsubscribe"]
    assert mine != theirs
    assert re.fullmatch(r"<https://example\.org/u\?t=[A-Za-z0-9_-]{22}>", mine)
    assert HEAD.token("li@example.org") in theirs  # the address's case does not matter
    plain = Letterhead(HEAD.address, HEAD.name, None, "https://example.org/u", HEAD.secret)
    assert plain.token(sub.key) == ""


def test_one_click_headers_are_on_every_message_and_the_page_first() -> None:
    for fmt in Format:
        sub = reader(fmt)
        fast, slow = both(sub, lambda s: RENDERER.render(advisory(), s, ONE_CLICK), head=ONE_CLICK)
        for envelope in (fast, slow):
            msg = parse(envelope.data)
            token = ONE_CLICK.token(sub.key)
            assert msg["List-Unsubscribe"] == (
                f"<https://alerts.example.org/unsubscribe/{token}>, <mailto:stop@example.org>"
            )
            assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            text = msg.get_body(preferencelist=("plain",))
            assert text is not None
            if fmt is not Format.ALERT:  # (an alert is its 160 characters, no footer)
                assert f"https://alerts.example.org/unsubscribe/{token}" in text.get_content()

"""Property: whatever names and advisory text arrive, the message parses back to the same
header values and the HTML shows the text escaped, never as markup."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from markupsafe import escape
from pydantic import ValidationError
from pydantic_core import PydanticCustomError
from support.models import HEAD, RENDERER
from support.project import parse

from advisory.domain import models
from advisory.domain.models import Advisory, Format, Subscriber
from advisory.mail.compose import Reader, compose

# Any text, line breaks, markup, template syntax, quotes and non-Latin scripts included;
# the models refuse control characters, which `assume` then skips.
HOSTILE = ["<script>alert(1)</script>", "{{ 7*7 }}", "a\r\nBcc: x@example.org",
           '"Quoted, Name" <evil@example.org>', "Zoë Ñúñez 李", "\u202eevil"]  # fmt: skip
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=80
) | st.sampled_from(HOSTILE)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=TEXT, title=TEXT, summary=TEXT, details=TEXT, fmt=st.sampled_from(Format))
def test_any_text_round_trips_through_the_message(
    name: str, title: str, summary: str, details: str, fmt: Format
) -> None:
    try:
        sub = Subscriber(name=name, email="ana@example.org", countries=("VE",), format=fmt)
        advisory = Advisory(country="VE", level=4, risks=("detention",), title=title,
                            summary=summary, details=details, issued=datetime(2026, 11, 24),
                            source="Desk")  # fmt: skip
    except ValidationError:
        assume(False)
        raise
    rendered = RENDERER.render(advisory, sub, HEAD)
    when = datetime(2026, 11, 25, tzinfo=UTC)
    env = compose(rendered, HEAD, Reader(sub.name, sub.email, "k", when))
    msg = parse(env.data)

    assert msg["To"].addresses[0].display_name == sub.name
    assert msg["To"].addresses[0].addr_spec == "ana@example.org"
    assert msg["Subject"] == rendered.subject
    assert msg["Message-ID"] == "<k@example.org>"
    assert set(msg.keys()) >= {"From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted"}
    assert msg["Bcc"] is None and msg["Cc"] is None
    if fmt is Format.HTML:
        html = msg.get_body(("html",)).get_content()
        for field in (advisory.title, advisory.summary, sub.email):
            assert str(escape(field)) in html
        assert "<script" not in html
    text = msg.get_body(("plain",)).get_content()
    if fmt is not Format.ALERT:  # the alert may cut the summary short
        assert advisory.summary in " ".join(text.split())  # wrapping changes only spaces


DOMAINS = ["example.org", "Example.ORG", "mail.example.co.uk", "bücher.example",
           "xn--bcher-kva.example", "例え.jp", "localhost", "example.test", "host.local",
           "a..b.org", "-bad.org", "under_score.org", "1.2.3.4", "[127.0.0.1]", "org",
           "x" * 63 + ".org", ".".join(["abcdefghij"] * 22) + ".org",
           "ñ" * 40 + ".example"]  # fmt: skip
LOCALS = st.text(alphabet="abcxyzABC019._+-=!#$%&'*/?^`{|}~\"(),:;<>@[\\] é", max_size=70) | (
    st.sampled_from(["postmaster", "Postmaster", "abuse", "a" * 64, "a" * 65, ".a", "a.", "a..b"])
)


@settings(max_examples=1500, deadline=None)
@given(local=LOCALS, domain=st.sampled_from(DOMAINS))
def test_the_quick_address_check_agrees_with_email_validator(local: str, domain: str) -> None:
    value = f"{local}@{domain}"
    assert outcome(models._email, value) == outcome(models._email_in_full, value)


def outcome(check: Callable[[str], str], value: str) -> str | None:
    """What a field's check makes of `value`; None where it refuses it."""
    try:
        return check(value)
    except PydanticCustomError:
        return None


@settings(max_examples=1500, deadline=None)
@given(text=st.text() | st.text(alphabet="Ae\u0301é \t\r\n\x00\x85\u200b\u202e\ue000\ufdd0\ud800"))
def test_the_quick_text_check_agrees_with_the_full_one(text: str) -> None:
    assert outcome(models._clean, text) == outcome(models._clean_in_full, text)


@settings(max_examples=300, deadline=None)
@given(
    name=st.text(min_size=1, max_size=40).filter(lambda s: s.strip() and s.isprintable()),
    countries=st.lists(st.sampled_from(["VE", "CO", "FR", "*"]), max_size=3),
    level=st.sampled_from(list(models.Level)),
    fmt=st.sampled_from(list(Format)),
    sources=st.lists(st.sampled_from(["files", "us-state", "gov-uk", "canada"]), max_size=2),
    frequency=st.sampled_from(list(models.Frequency)),
)
def test_a_reader_read_back_from_a_kept_list_is_the_reader_validated(
    name: str, countries: list[str], level: models.Level, fmt: Format, sources: list[str],
    frequency: models.Frequency,
) -> None:  # fmt: skip
    sub = models.Subscriber.model_validate({
        "name": name, "email": "a@example.org", "countries": countries, "min_level": int(level),
        "format": fmt.value, "sources": sources, "frequency": frequency.value,
    })  # fmt: skip
    values = dict(sub.__dict__)
    built = models.trusted(models.Subscriber, dict(values))
    made = models.Subscriber.model_construct(**values)
    assert built == made == sub and hash(built) == hash(sub) and repr(built) == repr(sub)
    assert list(built.__dict__) == list(made.__dict__) == list(models.Subscriber.model_fields)
    assert built.model_fields_set == made.model_fields_set
    assert built.model_dump() == sub.model_dump()
    assert built.model_copy(update={"name": "B"}).name == "B" and built.name == sub.name

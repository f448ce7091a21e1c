"""Rendering: the short alert's limit, plain-text wrapping, escaping, templates as code only."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from support.models import ACKS, HEAD, RENDERER, advisory, reader

from advisory.domain.models import ACK_MARK, TOKEN_MARK, Format, Level, Region, Risk, Trip
from advisory.errors import TemplateError
from advisory.mail.compose import Reader
from advisory.mail.rendering import ALERT_MAX, TEMPLATES, Renderer, alert_text

ALL_RISK_SETS = [
    list(combo) for n in range(len(Risk) + 1) for combo in itertools.combinations(Risk, n)
]


@pytest.mark.parametrize("country", ["VE", "GS", "CD"])  # short, longest, a readable override
def test_alert_fits_160_for_every_level_and_risk_combination(country: str) -> None:
    long_summary = "Arbitrary detention of foreigners is reported in several regions. " * 10
    sub = reader(Format.ALERT, countries=["*"])
    for level, risks in itertools.product(Level, ALL_RISK_SETS):
        a = advisory(country=country, level=int(level), risks=[r.value for r in risks],
                     summary=long_summary[:999])  # fmt: skip
        text = RENDERER.render(a, sub, HEAD).text.rstrip("\n")
        assert len(text) <= ALERT_MAX, (level, risks, text)
        assert "\n" not in text
        assert text.startswith(f"{a.country_name.upper()} L{level.value} {level.label.upper()}")


def test_alert_keeps_a_short_summary_whole() -> None:
    text = RENDERER.render(advisory(), reader(Format.ALERT), HEAD).text
    assert text == (
        "VENEZUELA L4 DO NOT TRAVEL [detention]: "
        "Foreigners have been arrested arbitrarily and held as bargaining chips.\n"
    )


def test_alert_cut_ends_at_a_word_with_an_ellipsis() -> None:
    text = alert_text("word " * 100)
    assert len(text) <= ALERT_MAX and text.endswith("word…")


def test_plain_text_is_wrapped_under_78_columns() -> None:
    paragraph = " ".join(["Travellers should keep their documents with them at all times."] * 12)
    a = advisory(details=f"{paragraph}\n\n{paragraph}", summary="Short. " * 100)
    for fmt in (Format.TEXT, Format.HTML):
        text = RENDERER.render(a, reader(fmt), HEAD).text
        assert max(len(line) for line in text.splitlines()) < 78
        # Paragraphs stay paragraphs: each details paragraph is one block between blank lines.
        blocks = [" ".join(block.split()) for block in text.split("\n\n")]
        assert blocks.count(paragraph) == 2


def test_html_shows_level_banner_risks_and_footer() -> None:
    a = advisory(risks=["crime", "detention"], source_url="https://example.org/ve")
    html = RENDERER.render(a, reader(), HEAD).html
    assert html is not None
    assert "Level 4 of 4 · Do not travel" in html
    assert 'bgcolor="#b3121f"' in html
    assert '<li style="margin:0 0 4px 0;">Crime</li>' in html
    assert "Arbitrary or wrongful detention" in html
    assert 'href="https://example.org/ve"' in html
    assert "issued 24 November 2026" in html
    assert "subscribed to travel advisories for Venezuela at level 1" in html
    assert f'href="https://example.org/u?t={TOKEN_MARK}"' in html and "Unsubscribe" in html


def test_advisory_text_is_escaped_and_never_a_template() -> None:
    a = advisory(
        title="<b>Bold</b> {{ 7*7 }}",
        summary="<script>alert('x')</script> {% raw %}",
        details="{{ config }} & {# comment #} <img src=x onerror=alert(1)>",
    )
    out = RENDERER.render(a, reader(name="{{ 7*7 }} <i>Ana</i>"), HEAD)
    assert out.html is not None
    assert "<script>" not in out.html and "&lt;script&gt;" in out.html
    assert "<img" not in out.html and "&lt;img src=x onerror=alert(1)&gt;" in out.html
    assert "{{ 7*7 }}" in out.html and "49" not in out.html
    assert "{{ config }} &amp; {# comment #}" in out.html
    assert "{{ 7*7 }}" in out.text and "<script>alert('x')</script>" in out.text


def test_issued_time_is_shown_in_the_service_time_zone() -> None:
    from datetime import UTC, datetime

    a = advisory(issued=datetime(2026, 11, 24, 23, 30, tzinfo=UTC))
    madrid = Renderer(timezone="Europe/Madrid")
    assert "issued 25 November 2026, 00:30 CET" in madrid.render(a, reader(), HEAD).text


def test_a_broken_template_fails_at_start_up(tmp_path: Path) -> None:
    for name in TEMPLATES:
        (tmp_path / name).write_text("{{ country }}\n")
    (tmp_path / "layout.html").write_text("<p>{% if level %}unclosed</p>\n")
    with pytest.raises(TemplateError, match=r"layout\.html:1: Unexpected end of template"):
        Renderer(tmp_path)


def test_an_undefined_variable_fails_on_first_render(tmp_path: Path) -> None:
    for name in TEMPLATES:
        (tmp_path / name).write_text("{{ contry }}\n")
    renderer = Renderer(tmp_path)
    with pytest.raises(TemplateError, match="'contry' is undefined"):
        renderer.render(advisory(), reader(), HEAD)


def test_a_higher_regional_level_is_shown_in_every_format() -> None:
    border = {"name": "Border <areas>", "level": 4, "summary": "Armed groups."}
    a = advisory(country="CO", level=2, title="Colombia: exercise increased caution",
                 summary="Crime is common.", regions=[border])  # fmt: skip
    html = RENDERER.render(a, reader(countries=["CO"]), HEAD)
    assert html.subject == (
        "Colombia travel advisory: Level 2 – Exercise increased caution, Level 4 in parts"
    )
    assert html.html is not None
    assert "Level 2 of 4 · Exercise increased caution · Level 4 in parts" in html.html
    assert "<strong>Border &lt;areas&gt;</strong>: Level 4 – Do not travel. Armed groups." in (
        html.html
    )
    text = RENDERER.render(a, reader(Format.TEXT, countries=["CO"]), HEAD).text
    assert text.startswith("COLOMBIA – LEVEL 2: EXERCISE INCREASED CAUTION (LEVEL 4 IN PARTS)\n")
    assert "  - Border <areas>: Level 4 – Do not travel. Armed groups.\n" in text
    alert = RENDERER.render(a, reader(Format.ALERT, countries=["CO"]), HEAD).text
    assert alert.startswith("COLOMBIA L2 (L4 in parts) EXERCISE INCREASED CAUTION")
    assert len(alert) <= ALERT_MAX
    plain = advisory(country="CO", level=2, title="Colombia", summary="Crime is common.")
    assert "in parts" not in RENDERER.render(plain, reader(countries=["CO"]), HEAD).subject


def test_a_digest_names_each_trip_and_each_regional_level_in_every_format() -> None:
    """A traveller's digest: the trip first in the emails, beside its country in the
    alert; the subject and alert show the level in parts."""
    trip = Trip(country="VE", start=date(2026, 12, 3), end=date(2026, 12, 10))
    colombia = advisory(country="CO", level=2, title="Colombia", summary="Some crime.",
                        regions=[Region(name="Border", level=Level.DO_NOT_TRAVEL)])  # fmt: skip
    told = [advisory(), colombia]
    on = date(2026, 11, 28)
    for fmt in Format:
        sub = reader(fmt, countries=["CO"], trips=[trip.model_dump()])
        got = RENDERER.render_digest(told, sub, HEAD, changes=[None, None], trips=[trip, None],
                                     today=on)  # fmt: skip
        assert got.subject == "Travel advisory updates: Venezuela L4, Colombia L2 (L4 in parts)"
        if fmt is Format.ALERT:
            assert got.text.strip() == (
                "NEWS: TRIP 3-10 DEC: VENEZUELA L4, COLOMBIA L2 (L4 in parts)"
            )
        else:
            assert got.text.splitlines()[0] == "You travel to Venezuela from 3 to 10 December 2026."


@pytest.mark.parametrize("public", ["https://alerts.example.org", "https://" + "a" * 80 + ".org"])
def test_the_alert_keeps_its_acknowledgement_link_whole_where_it_fits(public: str) -> None:
    head = replace(ACKS, acks=public)
    trip = Trip(country="VE", start=date(2026, 12, 3), end=date(2026, 12, 10))
    long = advisory(summary="Foreigners have been arrested arbitrarily " * 8)
    sub = reader(Format.ALERT)
    text = RENDERER.render(long, sub, head, trip=trip, today=date(2026, 12, 1), ack=True).text
    filled = Reader("Ana", sub.email, "k", datetime.now(UTC), ack="T" * 22).fill(text).strip()
    assert len(filled) <= ALERT_MAX
    assert filled.startswith("TRIP 3-10 DEC: VENEZUELA L4 DO NOT TRAVEL [detention]:")
    if len(public) < 40:
        assert filled.endswith(f"… Confirm: {public}/a/{'T' * 22}")
    else:  # no room beside the alert's first words: the alert alone, the link in email
        assert "Confirm" not in filled and filled.endswith("…")


def test_only_an_alert_that_asks_carries_the_button() -> None:
    sub = reader(Format.HTML)
    plain = RENDERER.render(advisory(), sub, ACKS)
    asked = RENDERER.render(advisory(), sub, ACKS, ack=True)
    assert "I have read this" not in (plain.html or "") and "/ack/" not in plain.text
    assert "I have read this – I am safe" in (asked.html or "")
    assert f"https://alerts.example.org/ack/{ACK_MARK}" in asked.text

"""The advisory model: what makes a new version, and what text it accepts."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError
from support.models import advisory

from advisory.domain.models import Subscriber


def test_version_changes_with_what_a_reader_is_told() -> None:
    base = advisory()
    for change in (
        {"level": 3},
        {"risks": ["detention", "crime"]},
        {"title": "Venezuela: leave now"},
        {"summary": "Something else."},
        {"details": "Other details."},
    ):
        assert advisory(**change).version != base.version, change


def test_version_ignores_dates_sources_order_and_rewrapping() -> None:
    base = advisory(risks=["crime", "detention"], details="One two three.\n\nFour.")
    same = advisory(
        risks=["detention", "crime", "crime"],
        details="One two\n   three.\n\n\n\nFour.\n",
        issued=date(2027, 1, 1),
        source="Another desk",
        source_url="https://example.org/x",
    )
    assert same.version == base.version
    assert [r.value for r in same.risks] == ["crime", "detention"]


def test_country_names_read_naturally() -> None:
    assert advisory(country="ve").country_name == "Venezuela"
    assert advisory(country="CD").country_name == "Democratic Republic of the Congo"
    assert advisory(country="KR").country_name == "South Korea"


def test_control_characters_are_refused_and_bidi_overrides_removed() -> None:
    with pytest.raises(ValidationError, match="contains a control character"):
        advisory(summary="bad\x00byte")
    assert advisory(title="evil\u202etxt.exe").title == "eviltxt.exe"


def test_subscriber_countries_are_normalised() -> None:
    sub = Subscriber(name="A", email="a@example.org", countries=("ve", "VE", " co "))
    assert sub.countries == ("VE", "CO")
    everyone = Subscriber(name="B", email="b@example.org", countries=("VE", "*"))
    assert everyone.every_country and everyone.countries == ("*",)

"""Canada's travel advice: one JSON document per country (`cta-cap-<iso2>.json`).

Its four advisory states map onto our four levels."""

from __future__ import annotations

import re
from typing import Any, Final

from advisory.domain.countries import is_country
from advisory.domain.models import Advisory, Level, Region
from advisory.domain.publishers import PUBLISHERS
from advisory.inputs.config import Source
from advisory.publishers.reading import Get, Round, each, each_error, page
from advisory.publishers.text import (
    iso_date,
    plain_text,
    published,
    regions_of,
    table,
    text_field,
)

__all__ = ["KIND", "advisory", "read"]

KIND: Final = "canada"
NAME: Final = PUBLISHERS[KIND].name

_CANADA_LEVELS: Final = {0: 1, 1: 2, 2: 3, 3: 4}


async def read(source: Source, get: Get, found: Round) -> None:
    async def one(country: str) -> None:
        url = f"{source.location}/cta-cap-{country.lower()}.json"
        with each_error(url, found):
            await page(get, found, url, country, advisory)

    await each(source, one)


def advisory(document: dict[str, Any]) -> Advisory | None:
    """One country's document from Canada's travel-advice data (`cta-cap-<iso2>.json`)."""
    data = table(document.get("data"))
    eng = table(data.get("eng"))
    country = text_field(data.get("country-iso")).upper()
    state = data.get("advisory-state")
    generated = text_field(table(table(document.get("metadata")).get("generated")).get("date"))
    issued = iso_date(generated.replace(" ", "T"))
    if type(state) is not int or state not in _CANADA_LEVELS:  # True == 1: not a level
        return None
    if not is_country(country) or issued is None:
        return None
    advice = text_field(eng.get("advisories"))
    body = plain_text(advice)
    headline = text_field(eng.get("advisory-text"))
    name = text_field(eng.get("name")) or country
    slug = text_field(eng.get("url-slug"))
    return published(
        country=country,
        level=Level(_CANADA_LEVELS[state]),
        title=f"{name}: {headline}" if headline else name,
        summary="" if body else headline,
        details=body,
        regions=_regions(advice),
        issued=issued,
        source=NAME,
        publisher=KIND,
        source_url=f"https://travel.gc.ca/destinations/{slug}" if slug else "",
        # "Editorial change" is Canada's own word for an update that changes no advice.
        update="minor"
        if "editorial" in text_field(data.get("update-metadata")).lower()
        else "major",
        change_note=text_field(eng.get("recent-updates")),
    )


# Each regional advisory is a container of its own: "<h3>Border areas - Avoid all travel</h3>".
_REGIONAL: Final = re.compile(
    r'<div class="AdvisoryContainer RegionalAdv">\s*<h3>([^<]{0,2000})</h3>'
    r'(.*?)(?=<div class="AdvisoryContainer|$)',
    re.S,
)
_ACTIONS: Final = (
    ("avoid all travel", 4),
    ("avoid non-essential travel", 3),
    ("high degree of caution", 2),
    ("normal security precautions", 1),
)


def _regions(advice: str) -> tuple[Region, ...]:
    """Canada's regional advisories, each a region at the level its heading's action says;
    the places it lists are in its summary."""
    found: list[tuple[str, Level, str]] = []
    for heading, text in _REGIONAL.findall(advice):
        name, _, action = plain_text(heading).rpartition(" - ")
        level = next((lvl for words, lvl in _ACTIONS if words in action.lower()), None)
        if level is not None:
            found.append((name, Level(level), " ".join(plain_text(text).split())))
    return regions_of(found)

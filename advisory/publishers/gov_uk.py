"""GOV.UK's FCDO travel advice: an index of countries, then one content item per country.

Its levels are alert statuses (whole country or parts); it publishes no risk indicators."""

from __future__ import annotations

import re
from typing import Any, Final

from advisory.domain.countries import country_code, country_name
from advisory.domain.models import Advisory, Level, Region
from advisory.domain.publishers import PUBLISHERS
from advisory.errors import UnreadableError
from advisory.inputs.config import Source
from advisory.publishers.reading import Get, Round, document, each, each_error, keep, page
from advisory.publishers.text import (
    iso_date,
    plain_text,
    published,
    regions_of,
    summary_of,
    table,
    text_field,
)

__all__ = ["KIND", "advisory", "read", "slugs"]

KIND: Final = "gov-uk"
NAME: Final = PUBLISHERS[KIND].name

_UK_LEVELS: Final = (
    ("avoid_all_travel_to_whole_country", 4),
    ("avoid_all_but_essential_travel_to_whole_country", 3),
    ("avoid_all_travel_to_parts", 2),
    ("avoid_all_but_essential_travel_to_parts", 2),
)


async def read(source: Source, get: Get, found: Round) -> None:
    index = source.location
    fetched, memo = await get(index, "index")
    if fetched.body is None:
        children = memo.get("children", [])
    else:  # the countries' names and slugs are all a 304 will need
        listed = (document(index, fetched.body).get("links") or {}).get("children") or []
        children = [{"details": {"country": c["details"]["country"]}} for c in listed]
        keep(found, index, fetched, "index", children=children)
    pages = slugs({"links": {"children": children}})

    async def one(country: str) -> None:
        url = f"{index}/{pages.get(country, country)}"
        with each_error(url, found):
            if country not in pages:
                raise UnreadableError(f"{index}: no GOV.UK travel advice for {country}")
            await page(get, found, url, country, advisory)

    await each(source, one)


def advisory(content: dict[str, Any]) -> Advisory | None:
    """A GOV.UK travel-advice content item; None once withdrawn."""
    if content.get("withdrawn_notice"):
        return None
    details = table(content.get("details"))
    country = country_code(text_field(table(details.get("country")).get("name")))
    if country is None:
        return None
    listed = details.get("alert_status") or []
    if not isinstance(listed, list) or not all(isinstance(x, str) for x in listed):
        raise ValueError("alert_status is not a list of statuses")
    statuses = set(listed)
    level = next((lvl for status, lvl in _UK_LEVELS if status in statuses), 1)
    listed_parts = details.get("parts")
    parts = [table(p) for p in listed_parts] if isinstance(listed_parts, list) else []
    body = "\n\n".join(
        filter(
            None,
            (
                plain_text(f"<h2>{text_field(p.get('title'))}</h2>{text_field(p.get('body'))}")
                for p in parts
            ),
        )
    ) or plain_text(text_field(content.get("description")))
    summary_part = next((p for p in parts if p.get("slug") == "summary"), None)
    summary_html = text_field(summary_part.get("body")) if summary_part else ""
    summary_text = plain_text(summary_html or text_field(details.get("summary"))) or body
    issued = iso_date(
        text_field(content.get("public_updated_at")) or text_field(details.get("updated_at"))
    )
    if issued is None:
        return None
    return published(
        country=country,
        level=Level(level),
        risks=(),  # GOV.UK publishes no risk indicators
        title=text_field(content.get("title")) or f"{country} travel advice",
        summary=summary_of(summary_text or text_field(content.get("title")) or country),
        details=body,
        regions=_regions(summary_text, statuses, country),
        issued=issued,
        source=NAME,
        publisher=KIND,
        source_url=f"https://www.gov.uk{text_field(content.get('base_path'))}",
        # Its own editorial flags: a minor update alerts nobody on GOV.UK either.
        update="minor" if text_field(content.get("update_type")) == "minor" else "major",
        change_note=text_field(details.get("change_description")),
    )


# "… advise(s) against all (but essential) travel to X." or "… to:" and a list of places.
_AGAINST: Final = re.compile(r"advises? against all (but essential )?travel to\b\s*(.+)", re.I)
_PARTS: Final = {4: "avoid_all_travel_to_parts", 3: "avoid_all_but_essential_travel_to_parts"}


def _regions(summary: str, statuses: set[str], country: str) -> tuple[Region, ...]:
    """The parts a `*_to_parts` status advises against, named as the summary names them
    ("Within 10 km of the border with Syria"), else "Parts of the country"."""
    found: dict[int, list[str]] = {4: [], 3: []}
    paragraphs = summary.split("\n\n")
    listed: set[int] = set()  # each list read once, however many lines point at it
    for i, paragraph in enumerate(paragraphs):
        for line in paragraph.splitlines():
            if sum(map(len, found.values())) >= 200 or not (match := _AGAINST.search(line)):
                continue
            level = 3 if match.group(1) else 4
            rest = match.group(2).strip()
            if not rest.endswith(":"):
                found[level].append(re.split(r"\.(?:\s|$)", rest)[0])
            elif i + 1 < len(paragraphs) and i + 1 not in listed:  # the places follow as a list
                listed.add(i + 1)
                items = paragraphs[i + 1].splitlines()
                found[level] += [item[2:] for item in items if item.startswith("* ")][:100]
    whole = {country.casefold(), country_name(country).casefold(), "the whole country"}
    named: list[tuple[str, Level, str]] = []
    for level, status in _PARTS.items():
        if status in statuses:
            names = [n for n in (" ".join(n.split()).rstrip(" .;,") for n in found[level])
                     if n and n.casefold() not in whole] or ["Parts of the country"]  # fmt: skip
            named += [(n[:1].upper() + n[1:], Level(level), "") for n in names]
    return regions_of(named)


def slugs(index: dict[str, Any]) -> dict[str, str]:
    """ISO code -> the slug of its page, from GOV.UK's travel-advice index."""
    out: dict[str, str] = {}
    for child in (index.get("links") or {}).get("children") or ():
        country = (child.get("details") or {}).get("country") or {}
        slug = country.get("slug")
        if not isinstance(slug, str) or not re.fullmatch(r"[a-z0-9-]{1,100}", slug):
            continue
        for name in (country.get("name"), *(country.get("synonyms") or ())):
            if isinstance(name, str) and (code := country_code(name)):
                out.setdefault(code, slug)
                break
    return out

"""The U.S. State Department: one RSS feed of every country's advisory.

Its level is in the title or a category, risks only in the prose, and countries as
FIPS 10-4 codes or ISO alpha-3 in the link."""

from __future__ import annotations

import re
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from typing import Final
from xml.etree.ElementTree import Element, ParseError

import pycountry
from defusedxml.ElementTree import fromstring
from pydantic import ValidationError

from advisory.domain.countries import country_code, is_country
from advisory.domain.models import Advisory, Level, Region
from advisory.domain.publishers import PUBLISHERS
from advisory.domain.text import outside
from advisory.errors import UnreadableError
from advisory.inputs.config import Source
from advisory.publishers.reading import Get, Round, keep
from advisory.publishers.text import (
    plain_text,
    published,
    regions_of,
    why,
)

__all__ = ["KIND", "advisories", "read"]

KIND: Final = "us-state"
NAME: Final = PUBLISHERS[KIND].name

# FIPS 10-4 codes the US feed uses where they differ from ISO 3166-1 (the feed's links
# carry ISO alpha-3 codes too, which are preferred when present).
_FIPS: Final = {
    "AC": "AG", "AG": "DZ", "AJ": "AZ", "AN": "AD", "AS": "AU", "AU": "AT", "AV": "AI",
    "BA": "BH", "BC": "BW", "BD": "BM", "BF": "BS", "BG": "BD", "BH": "BZ", "BK": "BA",
    "BL": "BO", "BM": "MM", "BN": "BJ", "BO": "BY", "BP": "SB", "BU": "BG", "BX": "BN",
    "BY": "BI", "CB": "KH", "CD": "TD", "CE": "LK", "CF": "CG", "CG": "CD", "CH": "CN",
    "CI": "CL", "CJ": "KY", "CN": "KM", "CS": "CR", "CT": "CF", "DA": "DK", "DO": "DM",
    "DR": "DO", "EI": "IE", "EK": "GQ", "EN": "EE", "ES": "SV", "EZ": "CZ", "FP": "PF",
    "GA": "GM", "GB": "GA", "GG": "GE", "GJ": "GD", "GK": "GG", "GM": "DE", "GV": "GN",
    "GZ": "PS", "HA": "HT", "HO": "HN", "IC": "IS", "IV": "CI", "IZ": "IQ", "JA": "JP",
    "KN": "KP", "KR": "KI", "KS": "KR", "KT": "CX", "KU": "KW", "KV": "XK", "KZ": "KZ",
    "LE": "LB", "LG": "LV", "LH": "LT", "LI": "LR", "LO": "SK", "LS": "LI", "LT": "LS",
    "MA": "MG", "MB": "MQ", "MC": "MO", "MG": "MN", "MH": "MS", "MI": "MW", "MJ": "ME",
    "MO": "MA", "MP": "MU", "MU": "OM", "NG": "NE", "NH": "VU", "NI": "NG", "NN": "SX",
    "NS": "SR", "NU": "NI", "OD": "SS", "PA": "PY", "PM": "PA", "PO": "PT", "PP": "PG",
    "PU": "GW", "RI": "RS", "RM": "MH", "RP": "PH", "RQ": "PR", "RS": "RU", "SC": "KN",
    "SE": "SC", "SF": "ZA", "SG": "SN", "SN": "SG", "SP": "ES", "ST": "LC", "SU": "SD",
    "SW": "SE", "SZ": "CH", "TD": "TT", "TI": "TJ", "TK": "TC", "TN": "TO", "TO": "TG",
    "TP": "ST", "TS": "TN", "TT": "TL", "TU": "TR", "TX": "TM", "UC": "CW", "UK": "GB",
    "UP": "UA", "UV": "BF", "VM": "VN", "VQ": "VI", "VT": "VA", "WA": "NA", "WZ": "SZ",
    "YM": "YE", "ZA": "ZM", "ZI": "ZW",
}  # fmt: skip


async def read(source: Source, get: Get, found: Round) -> None:
    url, scope = source.location, " ".join(sorted(source.countries))
    fetched, _ = await get(url, scope)
    if fetched.body is None:
        return
    refused: list[tuple[str, str]] = []
    try:
        found_here = advisories(fetched.body, refused)
    except ValueError as e:
        raise UnreadableError(f"{url}: {e}") from None
    printed = found.read([a for a in found_here if source.follows(a.country)])
    errors = [f"{url}: {country}: {why}" for country, why in refused if source.follows(country)]
    found.errors += errors
    if not errors:  # else read it all again next time, until the item can be read
        keep(found, url, fetched, scope, seen=printed)


def advisories(feed: str | bytes, refused: list[tuple[str, str]] | None = None) -> list[Advisory]:
    """Every advisory item of the State Department's RSS feed, in feed order.

    ValueError if the feed is not XML. An item that cannot be placed (no level, no
    country, no date) or has an empty body is left out: it says nothing to follow. One
    that is placed but will not validate is left out and told in `refused`, as
    (country, why), for the follower to report.
    """
    try:
        root = fromstring(feed)
    except ParseError as e:
        raise ValueError(f"not an RSS feed: {e}") from None
    out = []
    for item in root.iter("item"):
        try:
            advisory = _us_item(item)
        except _Refused as e:
            if refused is not None:
                refused.append((e.country, e.why))
            continue
        if advisory is not None:
            out.append(advisory)
    return out


class _Refused(UnreadableError):
    """An item placed in a country that will not validate: told against that country."""

    def __init__(self, country: str, why: str) -> None:
        super().__init__(why)
        self.country, self.why = country, why


def _us_item(item: Element) -> Advisory | None:
    def text(tag: str) -> str:
        return (item.findtext(tag) or "").strip()

    categories = {c.get("domain", ""): (c.text or "").strip() for c in item.iter("category")}
    if categories.get("Keyword", "advisory").lower() != "advisory":
        return None
    title, link = " ".join(text("title").split()), text("link")
    level = re.search(r"Level ([1-4])", categories.get("Threat-Level") or title)
    country = _us_country(link, categories.get("Country-Tag", ""), title)
    body = plain_text(text("description"))
    issued = _date(text("pubDate"))
    if level is None or country is None or not body:
        return None
    if issued is None:
        named = f"{title[:80]!r}: " if title.strip() else ""
        raise _Refused(country, f"{named}pubDate: not a date ({outside(text('pubDate'), 60)!r})")
    try:
        return published(
            country=country,
            level=Level(int(level.group(1))),
            title=title,
            details=body,
            regions=_regions(body),
            issued=issued,
            source=NAME,
            publisher=KIND,
            source_url=link,
        )
    except ValidationError as e:
        named = f"{title[:80]!r}: " if title.strip() else ""
        raise _Refused(country, f"{named}{why(e)}") from None


# "Do Not Travel to:" (level 4) or "Reconsider Travel to:" (3), then a list of places.
_LISTS: Final = re.compile(r"(do not travel|reconsider travel) to:", re.IGNORECASE)
# Or, as for Mexico, a section per level ("Level: 4 - Do not travel"), each place in it
# a paragraph of its own: "State of Colima: Do not travel due to terrorism, crime, …".
_SECTION: Final = re.compile(r"level: ([1-4])\b.*", re.IGNORECASE)
_PLACE: Final = re.compile(
    r"([^:*\n]{2,120}): (do not travel|reconsider travel)\b(?: due to (.+?))?\.?", re.IGNORECASE
)
_PHRASES: Final = {"do not travel": Level.DO_NOT_TRAVEL, "reconsider travel": Level.RECONSIDER}


def _regions(body: str) -> tuple[Region, ...]:
    """The places the advice names at level 3 or 4, each a region at that level
    ("Amazonas state"), its "due to …" as its summary: from the "Do Not Travel to:" and
    "Reconsider Travel to:" lists, or from the sections of a level each."""
    found: list[tuple[str, Level, str]] = []
    paragraphs = body.split("\n\n")
    section: Level | None = None
    for i, paragraph in enumerate(paragraphs):
        line = paragraph.strip().strip("*").strip()
        if heading := _SECTION.fullmatch(line):
            section = Level(int(heading.group(1)))
        elif (place := _PLACE.fullmatch(line)) and _PHRASES[place.group(2).lower()] == section:
            why = place.group(3)
            found.append((place.group(1).strip(), section, f"Due to {why}." if why else ""))
        elif (heading := _LISTS.fullmatch(line)) and i + 1 < len(paragraphs):
            level = _PHRASES[heading.group(1).lower()]
            for item in paragraphs[i + 1].splitlines()[:200]:
                if item.startswith("* "):
                    words = " ".join(item[2:].replace("*", " ").split())
                    name, _, why = re.sub(r"\s+([,.;:])", r"\1", words).partition(" due to ")
                    found.append(
                        (name.strip(" .,;:"), level, f"Due to {why.rstrip('.')}." if why else "")
                    )
        if len(found) >= 200:
            break
    return regions_of(found)


def _us_country(link: str, fips: str, title: str) -> str | None:
    """ISO alpha-2: from the link's alpha-3 (`destination.ven.html`), the FIPS 10-4
    Country-Tag, or the title's country name, in that order of trust."""
    if found := re.search(r"destination\.([a-z]{3})\.html", link):
        country = pycountry.countries.get(alpha_3=found.group(1).upper())
        if country is not None:
            return str(country.alpha_2)
    if fips:
        code = _FIPS.get(fips.upper(), fips.upper())
        return code if is_country(code) else None
    name = re.sub(r"\s+travel advisory$", "", title.split(" - ")[0].strip(), flags=re.IGNORECASE)
    return country_code(name)


def _date(value: str) -> date | None:
    """An RSS date, with or without the time the feed sometimes leaves out."""
    try:
        return parsedate_to_datetime(value).date()
    except (TypeError, ValueError):
        pass
    try:
        return datetime.strptime(value.strip(), "%a, %d %b %Y").date()
    except ValueError:
        return None

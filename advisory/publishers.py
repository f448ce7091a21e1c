"""The official publishers' advisories, normalised into ours.

The US State Department's RSS feed, GOV.UK's content API and Canada's travel-advice JSON
each say the same things differently: a level on their own scale, risks as prose or not
at all, country codes in FIPS 10-4 or slugs, text as HTML. Pure: each function takes
what was fetched and returns `Advisory` values (or None where there is nothing to
follow, such as a withdrawn page); fetching and remembering are elsewhere.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final
from xml.etree.ElementTree import Element, ParseError

import pycountry
from defusedxml.ElementTree import fromstring
from inscriptis import get_text
from pydantic import ValidationError

from advisory.countries import country_code, is_country
from advisory.models import Advisory, Level, Risk

__all__ = [
    "CANADA",
    "GOV_UK",
    "NOTE",
    "US_STATE",
    "canada_advisory",
    "gov_uk_advisory",
    "gov_uk_slugs",
    "plain_text",
    "risks_in",
    "us_state_advisories",
]

US_STATE: Final = "U.S. Department of State"
GOV_UK: Final = "UK Foreign, Commonwealth & Development Office"
CANADA: Final = "Government of Canada"

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

# Each publisher's scale onto our four levels (the README has the table).
_UK_LEVELS: Final = (
    ("avoid_all_travel_to_whole_country", 4),
    ("avoid_all_but_essential_travel_to_whole_country", 3),
    ("avoid_all_travel_to_parts", 2),
    ("avoid_all_but_essential_travel_to_parts", 2),
)
_CANADA_LEVELS: Final = {0: 1, 1: 2, 2: 3, 3: 4}

# The words of the US risk indicators as the advisories' prose writes them.
_RISK_WORDS: Final = (
    (Risk.CRIME, r"crime|criminal"),
    (Risk.TERRORISM, r"terroris"),
    (Risk.UNREST, r"unrest|armed conflict|\bwar\b"),
    (Risk.HEALTH, r"health"),
    (Risk.DISASTER, r"natural disaster|earthquake"),
    (Risk.EVENT, r"time-limited event|\bevents?\b"),
    (Risk.KIDNAPPING, r"kidnap|hostage"),
    (Risk.DETENTION, r"detention|arbitrary arrest|\barrest"),
    (Risk.OTHER, r"arbitrary enforcement|exit ban|\bother\b"),
)
# The notes publishers put before the advice: what changed, or that nothing did.
NOTE: Final = re.compile(
    r"(reissued|updated|there (were|was|have been) no changes|the travel advisory level"
    r"|advisory summary was updated|latest update)\b",
    re.IGNORECASE,
)
_DUE_TO: Final = re.compile(r"\bdue to\b\s*(:?)", re.IGNORECASE)
_INDICATORS: Final = re.compile(
    r"((?:\"[^\"]+\"[,\s]*(?:and\s+)?)+)risk indicators? (?:was|were) (added|removed)",
    re.IGNORECASE,
)


def plain_text(html: str) -> str:
    """HTML as plain text: paragraphs apart, each on one line, bullets kept."""
    text = get_text(html) if "<" in html else html
    paragraphs = []
    for block in re.split(r"\n\s*\n", text.replace("\xa0", " ")):
        lines = [" ".join(line.split()) for line in block.splitlines()]
        if joined := "\n".join(line for line in lines if line):
            paragraphs.append(joined)
    return "\n\n".join(paragraphs)


def risks_in(text: str) -> tuple[Risk, ...]:
    """The US risk indicators an advisory's prose names: its "due to …" clause, then any
    "… risk indicators were added/removed" line."""
    found: set[Risk] = set()
    if match := _DUE_TO.search(text):
        rest = text[match.end() :]
        rest = rest.lstrip() if match.group(1) else rest
        # "due to: * a * b" runs to the end of the list; "due to a, b and c." to the stop.
        end = re.search(r"\n\n" if match.group(1) else r"\.(?:\s|$)|\n\n", rest)
        found |= _named(rest[: end.start()] if end else rest)
    for names, change in _INDICATORS.findall(text):
        named = _named(names)
        found = found | named if change.lower() == "added" else found - named
    return tuple(sorted(found, key=list(Risk).index))


def _named(clause: str) -> set[Risk]:
    return {risk for risk, words in _RISK_WORDS if re.search(words, clause, re.IGNORECASE)}


def us_state_advisories(feed: str | bytes) -> list[Advisory]:
    """Every advisory item of the State Department's RSS feed, in feed order.

    ValueError if the feed is not XML. An item that cannot be placed (no level, no
    country, no date), has an empty body or will not validate is left out.
    """
    try:
        root = fromstring(feed)
    except ParseError as e:
        raise ValueError(f"not an RSS feed: {e}") from None
    out = []
    for item in root.iter("item"):
        try:
            advisory = _us_item(item)
        except ValidationError:  # a field beyond what an advisory can hold: not one to follow
            continue
        if advisory is not None:
            out.append(advisory)
    return out


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
    if level is None or country is None or issued is None or not body:
        return None
    return Advisory(
        country=country,
        level=Level(int(level.group(1))),
        risks=risks_in(body),
        title=title,
        summary=_summary(body),
        details=body,
        issued=issued,
        source=US_STATE,
        publisher="us-state",
        source_url=link if link.startswith("https://") else None,
    )


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


_ACTION: Final = re.compile(
    r"exercise (normal|increased|a high degree)|take normal|reconsider travel|do not travel"
    r"|avoid (all|non-essential)|advises? against all",
    re.IGNORECASE,
)


def _summary(body: str) -> str:
    """The advice itself: the first sentence that gives it.

    Publishers lead with notes such as "Reissued after review with no edits", and the
    US feed breaks "Exercise increased caution" from "in Italy due to terrorism.";
    notes are skipped and the broken sentence is joined.
    """
    paragraphs = [" ".join(p.split()) for p in body.split("\n\n")]
    for i, paragraph in enumerate(paragraphs):
        if not _ACTION.search(paragraph[:80]) or NOTE.match(paragraph):
            continue
        if not re.search(r"[.!?]", paragraph) and i + 1 < len(paragraphs):
            following = paragraphs[i + 1]
            if paragraph.endswith(":") and following.startswith("* "):  # "due to:" and a list
                items = [item.strip().rstrip(".") for item in following.split("* ") if item.strip()]
                return f"{paragraph} {'; '.join(items)}."[:1000]
            if not following[:1].islower():
                continue  # a heading, such as "Colombia - Exercise a high degree of caution"
            paragraph = f"{paragraph} {following}"
        return _first_sentence(paragraph)
    return _first_sentence(paragraphs[0])


def _first_sentence(text: str) -> str:
    sentence = re.match(r".+?(?<!\b[A-Z])[.!?](?=\s|$)", text)  # "U.S." ends no sentence
    return (sentence.group(0) if sentence else text)[:1000]


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


def gov_uk_advisory(content: dict[str, Any]) -> Advisory | None:
    """A GOV.UK travel-advice content item; None once withdrawn."""
    if content.get("withdrawn_notice"):
        return None
    details = content.get("details") or {}
    country = country_code(str((details.get("country") or {}).get("name", "")))
    if country is None:
        return None
    statuses = set(details.get("alert_status") or ())
    level = next((lvl for status, lvl in _UK_LEVELS if status in statuses), 1)
    parts = details.get("parts") or []
    body = "\n\n".join(
        filter(
            None, (plain_text(f"<h2>{p.get('title', '')}</h2>{p.get('body', '')}") for p in parts)
        )
    ) or plain_text(str(content.get("description") or ""))
    summary_part = next((p for p in parts if p.get("slug") == "summary"), None)
    summary_text = plain_text(str(summary_part.get("body", ""))) if summary_part else body
    issued = _iso_date(str(content.get("public_updated_at") or details.get("updated_at") or ""))
    if issued is None:
        return None
    return Advisory(
        country=country,
        level=Level(level),
        risks=(),
        title=str(content.get("title") or f"{country} travel advice"),
        summary=_summary(summary_text or str(content.get("title"))),
        details=body,
        issued=issued,
        source=GOV_UK,
        publisher="gov-uk",
        source_url=f"https://www.gov.uk{content['base_path']}"
        if content.get("base_path")
        else None,
    )


def gov_uk_slugs(index: dict[str, Any]) -> dict[str, str]:
    """ISO code -> the slug of its page, from GOV.UK's travel-advice index."""
    out: dict[str, str] = {}
    for child in (index.get("links") or {}).get("children") or ():
        country = (child.get("details") or {}).get("country") or {}
        code, slug = country_code(str(country.get("name", ""))), country.get("slug")
        if code and isinstance(slug, str) and re.fullmatch(r"[a-z0-9-]+", slug):
            out.setdefault(code, slug)
    return out


def canada_advisory(document: dict[str, Any]) -> Advisory | None:
    """One country's document from Canada's travel-advice data (`cta-cap-<iso2>.json`)."""
    data = document.get("data") or {}
    eng = data.get("eng") or {}
    country = str(data.get("country-iso", "")).upper()
    state = data.get("advisory-state")
    generated = str(((document.get("metadata") or {}).get("generated") or {}).get("date", ""))
    issued = _iso_date(generated.replace(" ", "T"))
    if not is_country(country) or state not in _CANADA_LEVELS or issued is None:
        return None
    body = plain_text(str(eng.get("advisories") or ""))
    headline = str(eng.get("advisory-text") or "")
    slug = eng.get("url-slug")
    return Advisory(
        country=country,
        level=Level(_CANADA_LEVELS[state]),
        risks=risks_in(body),
        title=f"{eng.get('name') or country}: {headline}" if headline else str(eng.get("name")),
        summary=_summary(body) if body else headline,
        details=body,
        issued=issued,
        source=CANADA,
        publisher="canada",
        source_url=f"https://travel.gc.ca/destinations/{slug}" if slug else None,
    )


def _iso_date(value: str) -> date | None:
    try:
        return datetime.fromisoformat(value).date()
    except ValueError:
        return None

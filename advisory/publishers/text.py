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

from advisory.domain.countries import country_code, is_country
from advisory.domain.models import Advisory, Level, Risk
from advisory.domain.text import outside

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
_INDICATORS: Final = re.compile(r"risk indicators? (?:was|were) (added|removed)", re.IGNORECASE)
_QUOTED: Final = re.compile(r"(?:\"[^\"]{1,80}\"[,\s]*(?:and\s+)?)+$")


def plain_text(html: str) -> str:
    """HTML as plain text: paragraphs apart, each on one line, bullets kept."""
    text = _printable(get_text(html) if "<" in html else html)
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
    for line in _INDICATORS.finditer(text):
        # The quoted names just before: looked for in a bounded stretch, never the whole text.
        names = _QUOTED.search(text[max(0, line.start() - 400) : line.start()])
        named = _named(names.group(0)) if names else set()
        found = found | named if line.group(1).lower() == "added" else found - named
    return tuple(sorted(found, key=list(Risk).index))


def _named(clause: str) -> set[Risk]:
    return {risk for risk, words in _RISK_WORDS if re.search(words, clause, re.IGNORECASE)}


def us_state_advisories(
    feed: str | bytes, refused: list[tuple[str, str]] | None = None
) -> list[Advisory]:
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


class _Refused(Exception):
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
        return _published(
            country=country,
            level=Level(int(level.group(1))),
            title=title,
            details=body,
            issued=issued,
            source=US_STATE,
            publisher="us-state",
            source_url=link,
        )
    except ValidationError as e:
        named = f"{title[:80]!r}: " if title.strip() else ""
        raise _Refused(country, f"{named}{_why(e)}") from None


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
    details = _table(content.get("details"))
    country = country_code(_str(_table(details.get("country")).get("name")))
    if country is None:
        return None
    listed = details.get("alert_status") or []
    if not isinstance(listed, list) or not all(isinstance(x, str) for x in listed):
        raise ValueError("alert_status is not a list of statuses")
    statuses = set(listed)
    level = next((lvl for status, lvl in _UK_LEVELS if status in statuses), 1)
    listed_parts = details.get("parts")
    parts = [_table(p) for p in listed_parts] if isinstance(listed_parts, list) else []
    body = "\n\n".join(
        filter(
            None,
            (plain_text(f"<h2>{_str(p.get('title'))}</h2>{_str(p.get('body'))}") for p in parts),
        )
    ) or plain_text(_str(content.get("description")))
    summary_part = next((p for p in parts if p.get("slug") == "summary"), None)
    summary_text = plain_text(_str(summary_part.get("body"))) if summary_part else body
    issued = _iso_date(_str(content.get("public_updated_at")) or _str(details.get("updated_at")))
    if issued is None:
        return None
    return _published(
        country=country,
        level=Level(level),
        risks=(),  # GOV.UK publishes no risk indicators
        title=_str(content.get("title")) or f"{country} travel advice",
        summary=_summary(summary_text or _str(content.get("title")) or country),
        details=body,
        issued=issued,
        source=GOV_UK,
        publisher="gov-uk",
        source_url=f"https://www.gov.uk{_str(content.get('base_path'))}",
    )


def gov_uk_slugs(index: dict[str, Any]) -> dict[str, str]:
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


def canada_advisory(document: dict[str, Any]) -> Advisory | None:
    """One country's document from Canada's travel-advice data (`cta-cap-<iso2>.json`)."""
    data = _table(document.get("data"))
    eng = _table(data.get("eng"))
    country = _str(data.get("country-iso")).upper()
    state = data.get("advisory-state")
    generated = _str(_table(_table(document.get("metadata")).get("generated")).get("date"))
    issued = _iso_date(generated.replace(" ", "T"))
    if type(state) is not int or state not in _CANADA_LEVELS:  # True == 1: not a level
        return None
    if not is_country(country) or issued is None:
        return None
    body = plain_text(_str(eng.get("advisories")))
    headline = _str(eng.get("advisory-text"))
    name = _str(eng.get("name")) or country
    slug = _str(eng.get("url-slug"))
    return _published(
        country=country,
        level=Level(_CANADA_LEVELS[state]),
        title=f"{name}: {headline}" if headline else name,
        summary="" if body else headline,
        details=body,
        issued=issued,
        source=CANADA,
        publisher="canada",
        source_url=f"https://travel.gc.ca/destinations/{slug}" if slug else "",
    )


def _str(value: Any) -> str:
    """A field that should be text: anything else (a number, a list) counts as missing,
    never as its Python repr in a reader's message."""
    return value if isinstance(value, str) else ""


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _published(
    *,
    title: str,
    details: str,
    summary: str = "",
    source_url: str = "",
    risks: tuple[Risk, ...] | None = None,
    **fields: Any,
) -> Advisory:
    """An advisory from a publisher's text, fitted to what an advisory holds: no control
    characters, each bullet a paragraph of its own (an advisory's paragraphs are folded
    to one line each), the details cut at a paragraph near the limit, an https link or
    none. Risks and summary are read from the text as published."""
    text = _printable(details)
    details = re.sub(r"\n(?=\* )", "\n\n", text)
    if len(details) > _DETAILS_LIMIT:
        cut = details.rfind("\n\n", 0, _DETAILS_LIMIT - 100)
        details = details[: cut if cut > 0 else _DETAILS_LIMIT - 100].rstrip() + "\n\n[…]"
    return Advisory(
        title=_printable(title)[:300],
        summary=_printable(summary)[:1000] or _summary(text),
        details=details,
        risks=risks_in(text[: 4 * _DETAILS_LIMIT]) if risks is None else risks,
        source_url=source_url if re.fullmatch(r"https://[^\s<>\"]{1,1990}", source_url) else None,
        **fields,
    )


_DETAILS_LIMIT: Final = 100_000
_UNPRINTABLE: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _printable(text: str) -> str:
    """Text as published, less what no reader can see: control characters (cp1252
    debris such as U+0092 among them) and halves of surrogate pairs."""
    return _UNPRINTABLE.sub("", text)


def _why(error: ValidationError) -> str:
    first = error.errors(include_input=False, include_url=False)[0]
    return f"{'.'.join(map(str, first['loc']))}: {first['msg']}"


def _iso_date(value: str) -> date | None:
    try:
        return datetime.fromisoformat(value).date()
    except ValueError:
        return None

"""What every publisher's reader needs to turn published text into an advisory: HTML to
plain text, the risks its prose names, the sentence that gives the advice, and fitting
it all to what an advisory holds. Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, Final

from inscriptis import get_text
from pydantic import ValidationError

from advisory.domain.models import Advisory, Level, Region, Risk, region_name

__all__ = [
    "NOTE",
    "iso_date",
    "plain_text",
    "printable",
    "published",
    "regions_of",
    "risks_in",
    "summary_of",
    "table",
    "text_field",
    "why",
]

# Each publisher's scale onto our four levels (the README has the table).

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
    text = printable(get_text(html) if "<" in html else html)
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


_ACTION: Final = re.compile(
    r"exercise (normal|increased|a high degree)|take normal|reconsider travel|do not travel"
    r"|avoid (all|non-essential)|advises? against all",
    re.IGNORECASE,
)


def summary_of(body: str) -> str:
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


def text_field(value: Any) -> str:
    """A field that should be text: anything else (a number, a list) counts as missing,
    never as its Python repr in a reader's message."""
    return value if isinstance(value, str) else ""


def table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def published(
    *,
    title: str,
    details: str,
    summary: str = "",
    source_url: str = "",
    risks: tuple[Risk, ...] | None = None,
    change_note: str = "",
    **fields: Any,
) -> Advisory:
    """An advisory from a publisher's text, fitted to what an advisory holds: no control
    characters, each bullet a paragraph of its own (an advisory's paragraphs are folded
    to one line each), the details cut at a paragraph near the limit, an https link or
    none; its change note one line of at most 300 characters, without the publisher's
    "Latest update:". Risks and summary are read from the text as published."""
    text = printable(details)
    details = re.sub(r"\n(?=\* )", "\n\n", text)
    if len(details) > _DETAILS_LIMIT:
        cut = details.rfind("\n\n", 0, _DETAILS_LIMIT - 100)
        details = details[: cut if cut > 0 else _DETAILS_LIMIT - 100].rstrip() + "\n\n[…]"
    note = re.sub(
        r"^\s*latest update\s*:\s*", "", " ".join(printable(change_note).split()), flags=re.I
    )
    if len(note) > 300:
        note = note[:299].rsplit(" ", 1)[0].rstrip(" ,;:.–-") + "…"
    return Advisory(
        change_note=note,
        title=printable(title)[:300],
        summary=printable(summary)[:1000] or summary_of(text),
        details=details,
        risks=risks_in(text[: 4 * _DETAILS_LIMIT]) if risks is None else risks,
        source_url=source_url if re.fullmatch(r"https://[^\s<>\"]{1,1990}", source_url) else None,
        **fields,
    )


_DETAILS_LIMIT: Final = 100_000
_UNPRINTABLE: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def printable(text: str) -> str:
    """Text as published, less what no reader can see: control characters (cp1252
    debris such as U+0092 among them) and halves of surrogate pairs."""
    return _UNPRINTABLE.sub("", text)


def why(error: ValidationError) -> str:
    first = error.errors(include_input=False, include_url=False)[0]
    return f"{'.'.join(map(str, first['loc']))}: {first['msg']}"


def iso_date(value: str) -> date | None:
    try:
        return datetime.fromisoformat(value).date()
    except ValueError:
        return None


def regions_of(found: Iterable[tuple[str, Level, str]]) -> tuple[Region, ...]:
    """Regions from what a reader found (name, level, summary): names as the model keeps
    them, each once (ignoring case), at most 100; one that will not validate is left out
    rather than making the whole document unreadable."""
    regions: list[Region] = []
    seen: set[str] = set()
    for raw, level, summary in found:
        name = region_name(printable(raw))
        if not name or name.casefold() in seen:
            continue
        try:
            regions.append(Region(name=name, level=level, summary=printable(summary)[:1000]))
        except ValidationError:
            continue
        seen.add(name.casefold())
        if len(regions) == 100:
            break
    return tuple(regions)

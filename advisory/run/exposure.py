"""Who is exposed: every traveller whose trip window includes a moment or a day, in a
country whose highest level is at least N, whether the advisory in force reached them,
and whether they acknowledged it. What `advisory exposed` prints, as a table, CSV or JSON.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from advisory.domain.countries import country_name
from advisory.domain.matching import by_country
from advisory.domain.models import Advisory, Level, Subscriber
from advisory.domain.trips import Travel
from advisory.run.plan import CHUNK
from advisory.state.base import Outbox

__all__ = ["FORMATS", "Answered", "Exposure", "exposed", "render", "report"]

# (recipient, advisory key) -> whether the last alert of it that asked was acknowledged.
Answered = dict[tuple[str, str], bool]

FORMATS = ("table", "csv", "json")


@dataclass(frozen=True, slots=True)
class Exposure:
    """One traveller on one trip: the JSON object `advisory exposed` prints."""

    name: str
    email: str
    country: str
    level: int  # the highest anywhere in the country, of the advisories they follow
    start: str
    end: str
    delivered: bool  # the version in force of each of those advisories reached them
    acknowledged: bool | None = None  # each alert that asked them was; None: none asked


def exposed(
    roster: Iterable[Subscriber],
    advisories: Iterable[Advisory],
    outbox: Outbox,
    travel: Travel,
    *,
    now: float,
    day: date | None = None,
    country: str | None = None,
    min_level: Level = Level.NORMAL,
    answered: Answered | None = None,
) -> list[Exposure]:
    """The travellers exposed at `now` (or at any time on `day`), highest level first;
    `answered`: what they acknowledged.

    A country without an advisory has no level, and is not listed.
    """
    scope = by_country(advisories)
    keys = [a.key for group in scope.values() for a in group]
    out: list[Exposure] = []
    travellers = (sub for sub in roster if sub.trips)
    while batch := list(itertools.islice(travellers, CHUNK)):
        found = [
            (sub, trip, views)
            for sub in batch
            for trip in sub.trips
            if (country is None or trip.country == country)
            and (travel.overlaps(trip, day) if day is not None else travel.is_open(trip, now))
            and (views := [a for a in scope.get(trip.country, ()) if sub.follows(a)])
            and max(a.highest for a in views) >= min_level
        ]
        held = outbox.last_sent_to({sub.key for sub, _, _ in found}, keys)
        out.extend(
            Exposure(
                sub.name,
                sub.email,
                trip.country,
                int(max(a.highest for a in views)),
                trip.start.isoformat(),
                trip.end.isoformat(),
                all(held.get((sub.key, a.key), ("", ""))[0] == a.version for a in views),
                _acknowledged(answered or {}, sub, views),
            )
            for sub, trip, views in found
        )
    return sorted(out, key=lambda e: (-e.level, country_name(e.country), e.start, e.email))


def _acknowledged(answered: Answered, sub: Subscriber, views: list[Advisory]) -> bool | None:
    said = [answered[sub.key, a.key] for a in views if (sub.key, a.key) in answered]
    return all(said) if said else None


def render(rows: list[Exposure], fmt: str) -> str:
    """The report in `fmt`: a table readable at 100 columns, CSV, or JSON."""
    return report(rows, fmt, Exposure.__slots__, _table)


def report(
    rows: Sequence[Any], fmt: str, columns: Sequence[str], table: Callable[[Any], Iterator[str]]
) -> str:
    """Dataclass rows as JSON, CSV (true, false, empty for none) or `table`'s lines."""
    if fmt == "json":
        return json.dumps([asdict(row) for row in rows], ensure_ascii=False, indent=2) + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow(
                ["true" if v is True else "false" if v is False else v
                 for v in asdict(row).values()]
            )  # fmt: skip
        return buffer.getvalue()
    return "".join(table(rows))


def said(value: bool | None) -> str:
    """yes, NO (what needs looking at), or - (nothing to say)."""
    return "-" if value is None else "yes" if value else "NO"


def _table(rows: list[Exposure]) -> Iterator[str]:
    line = "{:<15} {:<25} {:<14} {:<5} {:<10} {:<10} {:<9} {}\n"
    yield line.format("NAME", "EMAIL", "COUNTRY", "LEVEL", "START", "END", "DELIVERED", "ACKED")
    for row in rows:
        where = f"{row.country} {country_name(row.country)}"
        yield line.format(
            fit(row.name, 15), fit(row.email, 25), fit(where, 14), f"L{row.level}",
            row.start, row.end, said(row.delivered), said(row.acknowledged),
        )  # fmt: skip


def fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"

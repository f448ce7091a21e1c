"""Who is exposed: every traveller whose trip window includes a moment or a day, in a
country whose highest level is at least N, and whether the advisory in force reached
them. What `advisory exposed` prints, as a table, CSV or JSON.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import date

from advisory.domain.countries import country_name
from advisory.domain.matching import by_country
from advisory.domain.models import Advisory, Level, Subscriber
from advisory.domain.trips import Travel
from advisory.run.plan import CHUNK
from advisory.state.base import Outbox

__all__ = ["FORMATS", "Exposure", "exposed", "render"]

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
) -> list[Exposure]:
    """The travellers exposed at `now` (or at any time on `day`), highest level first.

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
            )
            for sub, trip, views in found
        )
    return sorted(out, key=lambda e: (-e.level, country_name(e.country), e.start, e.email))


def render(rows: list[Exposure], fmt: str) -> str:
    """The report in `fmt`: a table readable at 100 columns, CSV, or JSON."""
    if fmt == "json":
        return json.dumps([asdict(row) for row in rows], ensure_ascii=False, indent=2) + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(Exposure.__slots__)
        for row in rows:
            writer.writerow(
                ["true" if v is True else "false" if v is False else v
                 for v in asdict(row).values()]
            )  # fmt: skip
        return buffer.getvalue()
    return "".join(_table(rows))


def _table(rows: list[Exposure]) -> Iterator[str]:
    line = "{:<18} {:<28} {:<14} {:<5} {:<10} {:<10} {}\n"
    yield line.format("NAME", "EMAIL", "COUNTRY", "LEVEL", "START", "END", "DELIVERED")
    for row in rows:
        where = f"{row.country} {country_name(row.country)}"
        yield line.format(
            _fit(row.name, 18), _fit(row.email, 28), _fit(where, 14), f"L{row.level}",
            row.start, row.end, "yes" if row.delivered else "NO",
        )  # fmt: skip


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"

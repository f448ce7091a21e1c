"""Who subscribes: the config's inline list, then the CSV `subscribers_file`, then the
trips of `trips_file`, each streamed.

A CSV row is validated exactly like an inline subscriber; its countries are
separated by spaces. A trips row (email, country, start, end) is a trip of a listed
subscriber. Large lists are read row by row, never held whole.
"""

from __future__ import annotations

import csv
import json
import re
import sqlite3
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import ValidationError

from advisory.domain.models import Format, Frequency, Level, Subscriber, Trip, address_key
from advisory.domain.trips import Travel
from advisory.errors import ConfigError, Problem, StorageError
from advisory.inputs.config import NOTHING, Config
from advisory.inputs.problems import problems

__all__ = ["Roster", "Shard", "read_csv", "read_roster"]

COLUMNS = ("name", "email", "countries", "min_level", "format", "sources", "frequency")
REQUIRED = ("name", "email")
TRIP_COLUMNS = ("email", "country", "start", "end")
MAX_FIELD = 10_000
MAX_LINE = 8 * MAX_FIELD  # bytes: a row's line of six fields, in UTF-8
_ENCODE = json.JSONEncoder(ensure_ascii=False).encode  # (`dumps` makes one per call)


@dataclass(frozen=True, slots=True)
class Shard:
    """One of `count` disjoint parts of the list, for a process of its own.

    Cut by the address's local part, which validation never rewrites (only the domain
    is normalised), so a raw CSV row can be skipped before the costly validation, and
    the same address, however its domain is written, always falls in the same part.
    """

    index: int
    count: int

    def __contains__(self, address: str) -> bool:
        local = address.rpartition("@")[0].strip().lower()
        return zlib.crc32(local.encode("utf-8", "surrogatepass")) % self.count == self.index


class Roster:
    """The list as checked: every subscriber (of a shard), in order, from one reading.

    A run plans from this and never reads the files again, so a list replaced or edited
    while it runs cannot be half-read: the readers checked are the readers written to.
    The CSV's rows wait in SQLite's private temporary database (on disk, not in memory),
    already validated, for as many passes as the run makes.
    """

    def __init__(self, inline: tuple[Subscriber, ...] = ()) -> None:
        self.inline = inline
        self.db = sqlite3.connect("")
        self.db.executescript("""
            CREATE TABLE listed (n INTEGER PRIMARY KEY, key TEXT UNIQUE NOT NULL, row TEXT,
                                 bare TEXT);  -- where it was listed, if with nothing to follow
            CREATE TABLE trips (key TEXT NOT NULL, country TEXT NOT NULL, start TEXT NOT NULL,
                                "end" TEXT NOT NULL, UNIQUE (key, country, start, "end"));
        """)
        self.db.executemany(
            "INSERT OR IGNORE INTO listed (key) VALUES (?)", ((s.key,) for s in inline)
        )
        self.count = len(inline)
        self.trips = 0  # read from the trips file
        self._file_trips = False

    def add(self, sub: Subscriber, bare: str | None = None) -> bool:
        """Keep a CSV subscriber; False if the address was listed before. `bare`: where
        it was listed, if it follows no country (its trips must then be in the file)."""
        row = _ENCODE(
            [sub.name, sub.email, sub.countries, int(sub.min_level), sub.format.value,
             sub.sources, sub.frequency.value]
        )  # fmt: skip
        added = self.db.execute(
            "INSERT OR IGNORE INTO listed (key, row, bare) VALUES (?, ?, ?)", (sub.key, row, bare)
        ).rowcount
        self.count += added
        return added == 1

    def mark_bare(self, key: str, where: str) -> None:
        """An inline subscriber with nothing to follow unless the trips file names them."""
        self.db.execute("UPDATE listed SET bare = ? WHERE key = ?", (where, key))

    def add_trip(self, key: str, trip: Trip) -> bool:
        """Keep a trip of a listed subscriber; False if `key` is not one. (The same trip
        twice is kept once.)"""
        if self.db.execute("SELECT 1 FROM listed WHERE key = ?", (key,)).fetchone() is None:
            return False
        self._file_trips = True
        self.trips += self.db.execute(
            'INSERT OR IGNORE INTO trips (key, country, start, "end") VALUES (?, ?, ?, ?)',
            (key, trip.country, trip.start.isoformat(), trip.end.isoformat()),
        ).rowcount
        return True

    def bare(self) -> Iterator[str]:
        """Where each subscriber with no country and no trip was listed."""
        rows = self.db.execute(
            "SELECT bare FROM listed WHERE bare IS NOT NULL AND key NOT IN (SELECT key FROM trips)"
        )
        return (where for (where,) in rows)

    def _trips_of(self, key: str) -> tuple[Trip, ...]:
        if not self._file_trips:
            return ()
        rows = self.db.execute(
            'SELECT country, start, "end" FROM trips WHERE key = ? ORDER BY start', (key,)
        )
        return _trips(rows)

    def __iter__(self) -> Iterator[Subscriber]:
        for sub in self.inline:
            yield (
                sub.model_copy(update={"trips": sub.trips + more})
                if (more := self._trips_of(sub.key))
                else sub
            )
        rows = self.db.execute(
            """SELECT row, (SELECT json_group_array(json_array(country, start, "end"))
                            FROM trips WHERE trips.key = listed.key)
               FROM listed WHERE row IS NOT NULL ORDER BY n"""
            if self._file_trips
            else "SELECT row, NULL FROM listed WHERE row IS NOT NULL ORDER BY n"
        )
        for row, trips in rows:
            name, email, countries, level, fmt, sources, frequency = json.loads(row)
            yield Subscriber.model_construct(
                name=name, email=email, countries=tuple(countries), min_level=Level(level),
                format=Format(fmt), sources=tuple(sources), frequency=Frequency(frequency),
                trips=_trips(json.loads(trips)) if trips is not None else (),
            )  # fmt: skip

    def __len__(self) -> int:
        return self.count

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Roster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _trips(rows: Iterable[Any]) -> tuple[Trip, ...]:
    return tuple(
        Trip.model_construct(country=c, start=date.fromisoformat(s), end=date.fromisoformat(e))
        for c, s, e in rows
    )


def read_roster(config: Config, shard: Shard | None = None) -> Roster:
    """Validate the whole list (or shard), duplicates included, reading each file once:
    the Roster to plan from, or one ConfigError with every problem."""
    numbered = [(i, sub) for i, sub in enumerate(config.subscribers)
                if shard is None or sub.key in shard]  # fmt: skip
    roster = _read(tuple(sub for _, sub in numbered), config.service.subscribers_file, shard,
                   config.service.trips_file)  # fmt: skip
    if config.service.trips_file is None:
        return roster
    try:
        for i, sub in numbered:
            if not sub.countries and not sub.trips:
                roster.mark_bare(sub.key, Problem.at(config.path, f"subscribers[{i}].countries",
                                                     NOTHING))  # fmt: skip
        _read_trips(roster, config.service.trips_file, shard, config.travel)
    except BaseException:
        roster.close()
        raise
    return roster


def read_csv(path: Path, trips: Path | None = None) -> None:
    """Check a subscriber CSV on its own (ConfigError), as when the config is invalid;
    `trips`: the trips file, which may give the CSV's readers what they follow."""
    _read((), path, None, trips).close()


def _read(
    inline: tuple[Subscriber, ...], path: Path | None, shard: Shard | None, trips: Path | None
) -> Roster:
    roster = Roster(inline)
    errors: list[str] = []
    try:
        try:
            for where, item in _csv_rows(path, shard) if path is not None else ():
                if not isinstance(item, Subscriber):
                    errors.extend(item)
                    continue
                bare = None
                if not item.countries:
                    bare = Problem.at(where, "countries", NOTHING)
                    if trips is None:
                        errors.append(bare)
                        continue
                if not roster.add(item, bare):
                    errors.append(Problem.at(where, "email", "address listed twice"))
                if len(errors) >= 100:
                    errors.append(Problem.at(path, "", "stopped after 100 problems"))
                    break
        except ConfigError as e:  # the file cannot be read on: after what was found so far
            errors.extend(e.problems)
        if errors:
            raise ConfigError(errors)
    except sqlite3.Error as e:  # the temporary space is full
        roster.close()
        raise StorageError(f"{path}: cannot keep the checked list: {e}") from None
    except BaseException:
        roster.close()
        raise
    return roster


def _read_trips(roster: Roster, path: Path, shard: Shard | None, travel: Travel) -> None:
    """The trips file into `roster`: ConfigError with every problem (up to 100)."""
    errors: list[str] = []
    try:
        try:
            for where, row in _rows(path, TRIP_COLUMNS, TRIP_COLUMNS, shard):
                trip, key = _trip(row, where)
                if isinstance(trip, list):
                    errors.extend(trip)
                elif why := travel.too_long(trip):
                    errors.append(Problem.at(where, "end", why))
                elif not roster.add_trip(key, trip):
                    errors.append(Problem.at(where, "email", "not a subscriber"))
                if len(errors) >= 100:
                    errors.append(Problem.at(path, "", "stopped after 100 problems"))
                    break
        except ConfigError as e:
            errors.extend(e.problems)
        if not errors:
            errors.extend(roster.bare())
        if errors:
            raise ConfigError(errors)
    except sqlite3.Error as e:
        raise StorageError(f"{path}: cannot keep the checked trips: {e}") from None


def _trip(row: dict[str | Any, str | Any], where: str) -> tuple[Trip | list[Problem], str]:
    """A trips row as (the trip or its problems, the traveller's key)."""
    if None in row:
        return [Problem.at(where, "", "more fields than columns")], ""
    out: list[Problem] = []
    try:
        key = address_key(row["email"] or "")
    except ValueError:
        key = ""
        out.append(Problem.at(where, "email", "not a valid email address"))
    data: dict[str, Any] = {"country": row["country"] or ""}
    for end in ("start", "end"):
        text = (row[end] or "").strip()
        try:
            data[end] = date.fromisoformat(text)
        except ValueError:
            data[end] = text  # not a date: validation names it
    try:
        trip = Trip.model_validate(data)
    except ValidationError as e:
        out.extend(problems(e, where))
    return (out or trip), key


def _csv_rows(
    path: Path, shard: Shard | None = None
) -> Iterator[tuple[str, Subscriber | list[Problem]]]:
    """(file:line, the subscriber or the problems of its row), in file order."""
    for where, row in _rows(path, COLUMNS, REQUIRED, shard):
        yield where, _subscriber(row, where)


def _rows(
    path: Path, columns: tuple[str, ...], required: tuple[str, ...], shard: Shard | None
) -> Iterator[tuple[str, dict[str | Any, str | Any]]]:
    """(file:line, the row) of a CSV with these columns, in file order; only the rows
    of `shard`'s addresses if one is given."""
    csv.field_size_limit(MAX_FIELD)
    try:
        f = path.open("rb")
    except OSError as e:
        raise ConfigError(Problem.at(path, "", e.strerror or "cannot read")) from None
    with f:
        reader = csv.DictReader(_decoded_lines(f, path))
        try:
            header = reader.fieldnames or []
        except csv.Error:
            raise ConfigError(Problem.at(path, "line 1", "not a CSV header")) from None
        bad = [f"unknown column {c!r}" for c in header if c not in columns]
        bad += [f"missing column {c!r}" for c in required if c not in header]
        bad += [f"column {c!r} appears twice" for c in columns if header.count(c) > 1]
        if bad:
            raise ConfigError(Problem.at(path, "line 1", reason) for reason in bad)
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error:
                where = f"{path}:{reader.line_num}"
                raise ConfigError(Problem.at(where, "", "malformed CSV")) from None
            if shard is not None and type(email := row.get("email")) is str and email not in shard:
                continue
            yield f"{path}:{reader.line_num}", row


def _decoded_lines(f: BinaryIO, path: Path) -> Iterator[str]:
    """UTF-8 (a spreadsheet's BOM allowed), decoded line by line to name the bad line;
    a line is never read past MAX_LINE, so a file with no line break cannot fill memory."""
    number = 0
    while raw := f.readline(MAX_LINE + 1):
        number += 1
        if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
            raise ConfigError(
                Problem.at(f"{path}:{number}", "", f"line longer than {MAX_LINE // 1000} KB")
            )
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise ConfigError(Problem.at(f"{path}:{number}", "", "not valid UTF-8")) from None


def _subscriber(row: dict[str | Any, str | Any], where: str) -> Subscriber | list[Problem]:
    if None in row:
        return [Problem.at(where, "", "more fields than columns")]
    data: dict[str, Any] = {k: v for k, v in row.items() if v not in (None, "")}
    for listed in ("countries", "sources"):
        if listed in data:
            data[listed] = data[listed].split()
    if "min_level" in data and re.fullmatch(r"\s*[0-9]{1,3}\s*", data["min_level"]):
        data["min_level"] = int(data["min_level"])
    try:
        return Subscriber.model_validate(data)
    except ValidationError as e:
        return list(problems(e, where))

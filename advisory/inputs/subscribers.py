"""Who subscribes: the config's inline list, then the CSV `subscribers_file`, streamed.

A CSV row is validated exactly like an inline subscriber; its countries are
separated by spaces. Large lists are read row by row, never held whole.
"""

from __future__ import annotations

import csv
import json
import re
import sqlite3
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import ValidationError

from advisory.domain.models import Format, Level, Subscriber
from advisory.errors import ConfigError, Problem, StorageError
from advisory.inputs.config import Config
from advisory.inputs.problems import problems

__all__ = ["Roster", "Shard", "read_csv", "read_roster"]

COLUMNS = ("name", "email", "countries", "min_level", "format", "sources")
REQUIRED = ("name", "email", "countries")
MAX_FIELD = 10_000
MAX_LINE = 8 * MAX_FIELD  # bytes: a row's line of six fields, in UTF-8


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
        self.db.execute(
            "CREATE TABLE listed (n INTEGER PRIMARY KEY, key TEXT UNIQUE NOT NULL, row TEXT)"
        )
        self.db.executemany(
            "INSERT OR IGNORE INTO listed (key) VALUES (?)", ((s.key,) for s in inline)
        )
        self.count = len(inline)

    def add(self, sub: Subscriber) -> bool:
        """Keep a CSV subscriber; False if the address was listed before."""
        row = json.dumps(
            [sub.name, sub.email, sub.countries, int(sub.min_level), sub.format.value,
             sub.sources], ensure_ascii=False,
        )  # fmt: skip
        added = self.db.execute(
            "INSERT OR IGNORE INTO listed (key, row) VALUES (?, ?)", (sub.key, row)
        ).rowcount
        self.count += added
        return added == 1

    def __iter__(self) -> Iterator[Subscriber]:
        yield from self.inline
        for (row,) in self.db.execute("SELECT row FROM listed WHERE row IS NOT NULL ORDER BY n"):
            name, email, countries, level, fmt, sources = json.loads(row)
            yield Subscriber.model_construct(
                name=name, email=email, countries=tuple(countries), min_level=Level(level),
                format=Format(fmt), sources=tuple(sources),
            )  # fmt: skip

    def __len__(self) -> int:
        return self.count

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Roster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_roster(config: Config, shard: Shard | None = None) -> Roster:
    """Validate the whole list (or shard), duplicates included, reading each file once:
    the Roster to plan from, or one ConfigError with every problem."""
    inline = tuple(sub for sub in config.subscribers if shard is None or sub.key in shard)
    return _read(inline, config.service.subscribers_file, shard)


def read_csv(path: Path) -> None:
    """Check a subscriber CSV on its own (ConfigError), as when the config is invalid."""
    _read((), path, None).close()


def _read(inline: tuple[Subscriber, ...], path: Path | None, shard: Shard | None) -> Roster:
    roster = Roster(inline)
    errors: list[str] = []
    try:
        try:
            for where, item in _csv_rows(path, shard) if path is not None else ():
                if not isinstance(item, Subscriber):
                    errors.extend(item)
                elif not roster.add(item):
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


def _csv_rows(
    path: Path, shard: Shard | None = None
) -> Iterator[tuple[str, Subscriber | list[Problem]]]:
    """(file:line, the subscriber or the problems of its row), in file order."""
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
        bad = [f"unknown column {c!r}" for c in header if c not in COLUMNS]
        bad += [f"missing column {c!r}" for c in REQUIRED if c not in header]
        bad += [f"column {c!r} appears twice" for c in COLUMNS if header.count(c) > 1]
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
            where = f"{path}:{reader.line_num}"
            yield where, _subscriber(row, where)


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

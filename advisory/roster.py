"""Who subscribes: the config's inline list, then the CSV `subscribers_file`, streamed.

A CSV row is validated exactly like an inline subscriber; its countries are
separated by spaces. Large lists are read row by row, never held whole.
"""

from __future__ import annotations

import csv
import re
import sqlite3
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import ValidationError

from advisory._validate import problems
from advisory.config import Config
from advisory.errors import ConfigError, Problem
from advisory.models import Subscriber

__all__ = ["Shard", "check_subscribers", "iter_subscribers"]

COLUMNS = ("name", "email", "countries", "min_level", "format", "sources")
REQUIRED = ("name", "email", "countries")
MAX_FIELD = 10_000


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


def iter_subscribers(config: Config, shard: Shard | None = None) -> Iterator[Subscriber]:
    """Every subscriber (of the shard); the first invalid CSV row raises (check first)."""
    yield from (sub for sub in config.subscribers if shard is None or sub.key in shard)
    if config.service.subscribers_file is not None:
        for _, item in _csv_rows(config.service.subscribers_file, shard):
            if not isinstance(item, Subscriber):
                raise ConfigError(item)
            yield item


def check_subscribers(config: Config, shard: Shard | None = None) -> int:
    """Validate the whole list (or shard), duplicates included; how many, or ConfigError."""
    inline = [sub for sub in config.subscribers if shard is None or sub.key in shard]
    count = len(inline)
    errors: list[str] = []
    path = config.service.subscribers_file
    if path is not None:
        with _Seen(sub.key for sub in inline) as seen:
            for where, item in _csv_rows(path, shard):
                if not isinstance(item, Subscriber):
                    errors.extend(item)
                elif not seen.add(item.key):
                    errors.append(Problem.at(where, "email", "address listed twice"))
                else:
                    count += 1
                if len(errors) >= 100:
                    errors.append(Problem.at(path, "", "stopped after 100 problems"))
                    break
    if errors:
        raise ConfigError(errors)
    return count


class _Seen:
    """The addresses met so far, on disk (SQLite's private temporary database), so that
    checking a million-line list for duplicates needs no more memory than a short one."""

    def __init__(self, keys: Iterable[str]) -> None:
        self.db = sqlite3.connect("")
        self.db.execute("CREATE TABLE seen (key TEXT PRIMARY KEY) WITHOUT ROWID")
        self.db.executemany("INSERT OR IGNORE INTO seen VALUES (?)", ((k,) for k in keys))

    def add(self, key: str) -> bool:
        """False if `key` was there already."""
        return self.db.execute("INSERT OR IGNORE INTO seen VALUES (?)", (key,)).rowcount == 1

    def __enter__(self) -> _Seen:
        return self

    def __exit__(self, *exc: object) -> None:
        self.db.close()


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
    """UTF-8 (a spreadsheet's BOM allowed), decoded line by line to name the bad line."""
    for number, raw in enumerate(f, start=1):
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

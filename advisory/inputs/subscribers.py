"""Who subscribes: the config's inline list, then the CSV `subscribers_file`, then the
trips of `trips_file`, each streamed.

A CSV row is validated exactly like an inline subscriber; its countries are
separated by spaces. A trips row (email, country, start, end) is a trip of a listed
subscriber. Large lists are read row by row, never held whole.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import re
import secrets
import sqlite3
import time
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import ValidationError

from advisory import __version__
from advisory.domain.models import (
    Format,
    Frequency,
    Level,
    Subscriber,
    Trip,
    address_key,
    trusted,
)
from advisory.domain.trips import Travel
from advisory.errors import ConfigError, ListDamaged, Problem, StorageError
from advisory.inputs.config import NOTHING, Config
from advisory.inputs.problems import problems

__all__ = ["Readers", "Roster", "Shard", "digest_of", "read_csv", "read_roster", "reopen_roster"]

COLUMNS = ("name", "email", "countries", "min_level", "format", "sources", "frequency")
REQUIRED = ("name", "email")
TRIP_COLUMNS = ("email", "country", "start", "end")
MAX_FIELD = 10_000
# A kept list is opened only by the version that made it, of the layout it was made in.
_KEPT = f"{__version__} list 1"
BATCH = 500  # CSV rows kept in one statement
MAX_LINE = 8 * MAX_FIELD  # bytes: a row's line of six fields, in UTF-8
_ENCODE = json.JSONEncoder(ensure_ascii=False).encode  # (`dumps` makes one per call)
# A kept row's values back as members (a lookup; calling the enum costs more).
_LEVELS: dict[int, Level] = {int(level): level for level in Level}
_FORMATS: dict[str, Format] = {f.value: f for f in Format}
_FREQUENCIES: dict[str, Frequency] = {f.value: f for f in Frequency}


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
    The CSV's rows wait in an SQLite file (on disk, not in memory), already validated,
    for as many passes as the run makes, with who follows which country (`of`). Where
    the run can keep it (`read_roster`'s `keep`), the file outlives the run, named by
    what it was read from: the next run of the same files opens it instead of reading
    and validating the list again.
    """

    def __init__(self, inline: tuple[Subscriber, ...] = (), where: str = "") -> None:
        self.inline = inline
        self.path: Path | None = None  # a kept list's file, once opened as one
        self.db = sqlite3.connect(where)
        try:
            self._make(inline)
        except BaseException:
            self.db.close()
            raise
        self.count = len(inline)
        self.trips = 0  # read from the trips file
        self._next = len(inline) + 1  # the next CSV row's place in the order
        self._waiting: list[tuple[int, str, str, str | None]] = []  # to be `added`
        self._where: list[str] = []

    def _make(self, inline: tuple[Subscriber, ...]) -> None:
        self.db.executescript("""
            PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
            CREATE TABLE listed (n INTEGER PRIMARY KEY, key TEXT UNIQUE NOT NULL, row TEXT,
                                 bare TEXT);  -- where it was listed, if with nothing to follow
            CREATE TABLE trips (key TEXT NOT NULL, country TEXT NOT NULL, start TEXT NOT NULL,
                                "end" TEXT NOT NULL, UNIQUE (key, country, start, "end"));
            -- the countries each CSV reader follows or travels to ('*': every one)
            CREATE TABLE follows (country TEXT NOT NULL, n INTEGER NOT NULL,
                                  PRIMARY KEY (country, n)) WITHOUT ROWID;
            CREATE TABLE sizes (count INTEGER NOT NULL, trips INTEGER NOT NULL);
        """)
        self.db.executemany(
            "INSERT OR IGNORE INTO listed (key) VALUES (?)", ((s.key,) for s in inline)
        )

    @classmethod
    def reopen(cls, inline: tuple[Subscriber, ...], path: Path) -> Roster:
        """A list checked before, as `seal` left it (sqlite3.Error if it is not one)."""
        roster = cls.__new__(cls)
        roster.inline, roster.path = inline, path
        roster.db = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro&immutable=1", uri=True)
        try:
            roster.count, roster.trips = roster.db.execute("SELECT * FROM sizes").fetchone()
        except (sqlite3.Error, TypeError):
            roster.db.close()
            raise sqlite3.DatabaseError(f"{path}: not a checked list") from None
        return roster

    def add(self, sub: Subscriber, bare: str | None = None, where: str = "") -> None:
        """Keep a CSV subscriber, listed at `where`, once `added`. `bare`: where it was
        listed, if it follows no country (its trips must then be in the file)."""
        row = _ENCODE(
            [sub.name, sub.email, sub.countries, int(sub.min_level), sub.format.value,
             sub.sources, sub.frequency.value]
        )  # fmt: skip
        self._waiting.append((self._next, sub.key, row, bare))
        self._where.append(where)
        self._next += 1

    @property
    def waiting(self) -> int:
        """How many subscribers `add` holds until `added`."""
        return len(self._waiting)

    def added(self) -> list[str]:
        """Those `add` holds written, in one statement: where each whose address was
        listed before is (`add`'s `where`), in their order; they are not kept."""
        rows, wheres = self._waiting, self._where
        if not rows:
            return []
        self._waiting, self._where = [], []
        before = self.db.total_changes
        self.db.executemany(
            "INSERT OR IGNORE INTO listed (n, key, row, bare) VALUES (?, ?, ?, ?)", rows
        )
        added = self.db.total_changes - before
        self.count += added
        if added == len(rows):
            return []
        kept = {n for (n,) in self.db.execute("SELECT n FROM listed WHERE n >= ?", (rows[0][0],))}
        return [where for (n, *_), where in zip(rows, wheres, strict=True) if n not in kept]

    def mark_bare(self, key: str, where: str) -> None:
        """An inline subscriber with nothing to follow unless the trips file names them."""
        self.db.execute("UPDATE listed SET bare = ? WHERE key = ?", (where, key))

    def add_trip(self, key: str, trip: Trip) -> bool:
        """Keep a trip of a listed subscriber; False if `key` is not one. (The same trip
        twice is kept once.)"""
        if self.db.execute("SELECT 1 FROM listed WHERE key = ?", (key,)).fetchone() is None:
            return False
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

    def seal(self) -> None:
        """Everything read: who follows what, and the file is complete (never written
        again). (An inline reader's countries and trips are looked up by `of` itself.)"""
        self.db.executescript("""
            INSERT OR IGNORE INTO follows SELECT country.value, n
                FROM listed, json_each(row, '$[2]') AS country WHERE row IS NOT NULL;
            INSERT OR IGNORE INTO follows SELECT trips.country, n
                FROM trips JOIN listed USING (key) WHERE row IS NOT NULL;
        """)
        self.db.execute("INSERT INTO sizes VALUES (?, ?)", (self.count, self.trips))
        self.db.commit()

    def _trips_of(self, key: str) -> tuple[Trip, ...]:
        if not self.trips:
            return ()
        rows = self.db.execute(
            'SELECT country, start, "end" FROM trips WHERE key = ? ORDER BY start', (key,)
        )
        return _trips(rows)

    def __iter__(self) -> Iterator[Subscriber]:
        return self._readers(self.inline, "")

    def of(self, countries: Collection[str]) -> Readers:
        """Only the readers who follow one of these countries (or every country), or
        travel to one: the readers of their advisories, looked up, not scanned."""
        wanted = sorted({*countries, "*"})
        among = (
            f"AND n IN (SELECT n FROM follows WHERE country IN ({', '.join('?' * len(wanted))}))"
        )
        with self._reading():
            inline = tuple(
                sub
                for sub in self.inline
                if {*sub.countries, *(t.country for t in (*sub.trips, *self._trips_of(sub.key)))}
                & set(wanted)
            )
            (count,) = self.db.execute(
                f"SELECT count(*) FROM listed WHERE row IS NOT NULL {among}", wanted
            ).fetchone()
        return Readers(partial(self._readers, inline, among, wanted), len(inline) + count)

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """Reads of a kept file: one damaged on disk is ListDamaged, and deleted."""
        try:
            yield
        except sqlite3.ProgrammingError:
            raise  # (our own mistake, not the file's)
        except (sqlite3.DatabaseError, ValueError, TypeError, KeyError) as e:
            if self.path is not None:
                with contextlib.suppress(OSError):
                    self.path.unlink(missing_ok=True)  # the next run reads the files again
            raise ListDamaged(
                f"{self.path or 'the list'}: cannot read the checked list: {e}; "
                "it is read again from its files at the next run"
            ) from None

    def _readers(
        self, inline: tuple[Subscriber, ...], among: str, wanted: Sequence[str] = ()
    ) -> Iterator[Subscriber]:
        with self._reading():
            for sub in inline:
                yield (
                    sub.model_copy(update={"trips": sub.trips + more})
                    if (more := self._trips_of(sub.key))
                    else sub
                )
            rows = self.db.execute(
                f"""SELECT row, (SELECT json_group_array(json_array(country, start, "end"))
                                 FROM trips WHERE trips.key = listed.key)
                    FROM listed WHERE row IS NOT NULL {among} ORDER BY n"""
                if self.trips
                else f"SELECT row, NULL FROM listed WHERE row IS NOT NULL {among} ORDER BY n",
                wanted,
            )
            for row, trips in rows:
                name, email, countries, level, fmt, sources, frequency = json.loads(row)
                yield trusted(Subscriber, {
                    "name": name, "email": email, "countries": tuple(countries),
                    "min_level": _LEVELS[level], "format": _FORMATS[fmt],
                    "sources": tuple(sources),
                    "trips": _trips(json.loads(trips)) if trips is not None else (),
                    "frequency": _FREQUENCIES[frequency],
                })  # fmt: skip

    def __len__(self) -> int:
        return self.count

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Roster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class Readers:
    """Some of a roster's readers (`Roster.of`), as often as asked, and how many."""

    readers: Callable[[], Iterator[Subscriber]]
    count: int

    def __iter__(self) -> Iterator[Subscriber]:
        return self.readers()

    def __len__(self) -> int:
        return self.count


def _trips(rows: Iterable[Any]) -> tuple[Trip, ...]:
    return tuple(
        Trip.model_construct(country=c, start=date.fromisoformat(s), end=date.fromisoformat(e))
        for c, s, e in rows
    )


def read_roster(config: Config, shard: Shard | None = None, *, keep: bool = True) -> Roster:
    """Validate the whole list (or shard), duplicates included, reading each file once:
    the Roster to plan from, or one ConfigError with every problem.

    A list read from files and checked before, from the same files and config, is
    opened as it was kept (`Config.lists`), not read again; a list read is kept for
    the next run (if `keep`: a command that only reads leaves no file behind).
    """
    numbered = [(i, sub) for i, sub in enumerate(config.subscribers)
                if shard is None or sub.key in shard]  # fmt: skip
    files = (config.service.subscribers_file, config.service.trips_file)
    if any(files) and (again := reopen_roster(config, shard)) is not None:
        return again
    kept = _keeping(config, shard) if any(files) else None
    where = ""
    if keep and kept is not None:
        with contextlib.suppress(OSError):  # (where it cannot be made, the list is not kept)
            kept[0].mkdir(mode=0o700, parents=True, exist_ok=True)  # (names, addresses)
            made = kept[0] / f".{kept[1]}-{os.getpid()}-{secrets.token_hex(4)}.new"
            os.close(os.open(made, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            where = str(made)
    try:
        digests = [hashlib.sha256() for _ in files]
        try:
            roster = _checked(config, numbered, shard, where, digests)
        except StorageError:
            if not where:
                raise
            with contextlib.suppress(OSError):
                Path(where).unlink(missing_ok=True)  # (no room to keep it: read it as before)
            digests, where = [], ""
            roster = _checked(config, numbered, shard, where, digests)
        if kept is not None and where:
            _kept(kept, Path(where), _name(kept[1], [d.digest() for d in digests]))
    finally:
        if where:
            with contextlib.suppress(OSError):
                Path(where).unlink(missing_ok=True)
    return roster


def _checked(
    config: Config,
    numbered: list[tuple[int, Subscriber]],
    shard: Shard | None,
    where: str,
    digests: list[Any],
) -> Roster:
    """The list read into `where` (a file, or "": SQLite's temporary one), each file's
    bytes given to its digest (if any)."""
    files = (config.service.subscribers_file, config.service.trips_file)
    seen = [d.update for d in digests] or [None, None]
    roster = _read(tuple(sub for _, sub in numbered), files[0], shard, files[1], where, seen[0])
    try:
        if config.service.trips_file is not None:
            for i, sub in numbered:
                if not sub.countries and not sub.trips:
                    roster.mark_bare(sub.key, Problem.at(
                        config.path, f"subscribers[{i}].countries", NOTHING))  # fmt: skip
            _read_trips(roster, config.service.trips_file, shard, config.travel, seen[1])
        roster.seal()
    except sqlite3.Error as e:  # (the disk is full)
        roster.close()
        raise StorageError(f"{files[0] or files[1]}: cannot keep the checked list: {e}") from None
    except BaseException:
        roster.close()
        raise
    return roster


def reopen_roster(config: Config, shard: Shard | None = None) -> Roster | None:
    """The list (or shard) as checked before from the files as they are now, if kept
    (a list of the config's readers alone, as it is)."""
    files = (config.service.subscribers_file, config.service.trips_file)
    inline = tuple(sub for sub in config.subscribers if shard is None or sub.key in shard)
    if not any(files):
        return Roster(inline)
    kept = _keeping(config, shard)
    if kept is None or (name := _name(kept[1], [digest_of(f) for f in files])) is None:
        return None
    try:
        return Roster.reopen(inline, kept[0] / name)
    except (sqlite3.Error, OSError):
        return None


def _keeping(config: Config, shard: Shard | None) -> tuple[Path, str] | None:
    """Where this list is kept, and the name its files begin with (one per shard)."""
    if (folder := config.lists) is None:
        return None
    part = "all" if shard is None else f"{shard.index}of{shard.count}"
    # (What a list's readers are depends on the config too: inline readers, trip rules.)
    config_digest = hashlib.sha256(_KEPT.encode() + b"\0" + config.raw).hexdigest()[:16]
    return folder, f"{part}-{config_digest}"


def _name(prefix: str, digests: Sequence[bytes | None]) -> str | None:
    """The kept file of a list read from files of these digests (None: one unreadable)."""
    if any(d is None for d in digests):
        return None
    return f"{prefix}-{hashlib.sha256(b''.join(d or b'' for d in digests)).hexdigest()[:32]}.list"


def _kept(keep: tuple[Path, str], made: Path, name: str | None) -> None:
    """The list just checked kept under its name, in place of the ones before it."""
    folder, prefix = keep
    if name is None:
        return
    with contextlib.suppress(OSError):
        with made.open("rb") as f:
            os.fsync(f.fileno())  # (on disk before it has its name: never half a list)
        made.rename(folder / name)  # (atomic: a run opening it never sees half a list)
    with contextlib.suppress(OSError):  # (a folder some systems cannot sync)
        directory = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    with contextlib.suppress(OSError):
        part = prefix.partition("-")[0]
        for old in folder.glob("*.list"):  # this part's before, and those of other splits
            theirs = old.name.partition("-")[0]
            if old.name != name and (theirs == part or _split(theirs) != _split(part)):
                old.unlink(missing_ok=True)
        for left in folder.glob(".*.new"):  # of a run killed while it read its list
            if left.stat().st_mtime < time.time() - 86400:
                left.unlink(missing_ok=True)


def _split(part: str) -> str:
    """Into how many shards a kept file's part was cut: "all", or "0of2" -> "2"."""
    return part.partition("of")[2] or "1"


def digest_of(path: Path | None) -> bytes | None:
    """The SHA-256 of a list file's bytes (None: it cannot be read; no file: none read)."""
    if path is None:
        return hashlib.sha256().digest()  # (as for a file not read at all)
    try:
        with path.open("rb") as f:
            return hashlib.file_digest(f, "sha256").digest()
    except OSError:
        return None


def read_csv(path: Path, trips: Path | None = None) -> None:
    """Check a subscriber CSV on its own (ConfigError), as when the config is invalid;
    `trips`: the trips file, which may give the CSV's readers what they follow."""
    _read((), path, None, trips).close()


def _read(
    inline: tuple[Subscriber, ...],
    path: Path | None,
    shard: Shard | None,
    trips: Path | None,
    where: str = "",
    seen: Callable[[bytes], object] | None = None,
) -> Roster:
    try:
        roster = Roster(inline, where)
    except sqlite3.Error as e:  # (no room, or no right, to make it)
        raise StorageError(f"{path or trips}: cannot keep the checked list: {e}") from None
    errors: list[str] = []

    def kept() -> bool:
        """The rows `add` holds kept, each whose address was listed before told in the
        file's order: whether the 100th problem came with one (the reading stops there)."""
        for where in roster.added():
            errors.append(Problem.at(where, "email", "address listed twice"))
            if len(errors) >= 100:
                return True
        return False

    try:
        full = False  # 100 problems found: the reading stops after the row of the 100th
        try:
            for where_, item in _csv_rows(path, shard, seen) if path is not None else ():
                if isinstance(item, Subscriber) and (item.countries or trips is not None):
                    bare = None if item.countries else Problem.at(where_, "countries", NOTHING)
                    roster.add(item, bare, where_)
                    full = roster.waiting >= BATCH and kept()
                elif not (full := kept()):  # (those before it first)
                    errors.extend(item if isinstance(item, list)
                                  else [Problem.at(where_, "countries", NOTHING)])  # fmt: skip
                    full = len(errors) >= 100
                if full:
                    break
            else:
                full = kept()
        except ConfigError as e:  # the file cannot be read on: after what was found so far
            if not (full := kept()):
                errors.extend(e.problems)
        if full:
            errors.append(Problem.at(path, "", "stopped after 100 problems"))
        if errors:
            raise ConfigError(errors)
    except sqlite3.Error as e:  # the temporary space is full
        roster.close()
        raise StorageError(f"{path or trips}: cannot keep the checked list: {e}") from None
    except BaseException:
        roster.close()
        raise
    return roster


def _read_trips(
    roster: Roster,
    path: Path,
    shard: Shard | None,
    travel: Travel,
    seen: Callable[[bytes], object] | None = None,
) -> None:
    """The trips file into `roster`: ConfigError with every problem (up to 100)."""
    errors: list[str] = []
    try:
        try:
            for where, row in _rows(path, TRIP_COLUMNS, TRIP_COLUMNS, shard, seen):
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
    path: Path, shard: Shard | None = None, seen: Callable[[bytes], object] | None = None
) -> Iterator[tuple[str, Subscriber | list[Problem]]]:
    """(file:line, the subscriber or the problems of its row), in file order."""
    for where, row in _rows(path, COLUMNS, REQUIRED, shard, seen):
        yield where, _subscriber(row, where)


def _rows(
    path: Path,
    columns: tuple[str, ...],
    required: tuple[str, ...],
    shard: Shard | None,
    seen: Callable[[bytes], object] | None = None,
) -> Iterator[tuple[str, dict[str | Any, str | Any]]]:
    """(file:line, the row) of a CSV with these columns, in file order; only the rows
    of `shard`'s addresses if one is given. `seen` is given every byte read."""
    csv.field_size_limit(MAX_FIELD)
    try:
        f = path.open("rb")
    except OSError as e:
        raise ConfigError(Problem.at(path, "", e.strerror or "cannot read")) from None
    with f:
        reader = csv.reader(_decoded_lines(f, path, seen))
        try:
            header = next(reader, [])
        except csv.Error:
            raise ConfigError(Problem.at(path, "line 1", "not a CSV header")) from None
        bad = [f"unknown column {c!r}" for c in header if c not in columns]
        bad += [f"missing column {c!r}" for c in required if c not in header]
        bad += [f"column {c!r} appears twice" for c in columns if header.count(c) > 1]
        if bad:
            raise ConfigError(Problem.at(path, "line 1", reason) for reason in bad)
        # As csv.DictReader gives them (a blank line skipped, a short row's rest None,
        # a long row's extra fields under None), once the row is known to be the shard's.
        width = len(header)
        email = header.index("email") if "email" in header else width
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error:
                where = f"{path}:{reader.line_num}"
                raise ConfigError(Problem.at(where, "", "malformed CSV")) from None
            if not fields or (shard is not None and email < len(fields)
                              and fields[email] not in shard):  # fmt: skip
                continue
            row: dict[str | Any, str | Any] = dict(zip(header, fields, strict=False))
            if len(fields) > width:
                row[None] = fields[width:]
            elif len(fields) < width:
                row.update(dict.fromkeys(header[len(fields) :]))
            yield f"{path}:{reader.line_num}", row


def _decoded_lines(
    f: BinaryIO, path: Path, seen: Callable[[bytes], object] | None = None
) -> Iterator[str]:
    """UTF-8 (a spreadsheet's BOM allowed), decoded line by line to name the bad line;
    a line is never read past MAX_LINE, so a file with no line break cannot fill memory."""
    number = 0
    while raw := f.readline(MAX_LINE + 1):
        number += 1
        if seen is not None:
            seen(raw)
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

"""The state file (SQLite): every message queued, attempted, sent, failed or cancelled.

It is the outbox and the source of truth. A row goes in as `queued` before its
first attempt and becomes `sent` only after the server accepted it; every attempt
is logged. WAL and full sync: a crash at any point leaves a valid file.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, Final, Literal, TypeVar

from advisory.domain.models import Advisory
from advisory.domain.text import outside
from advisory.errors import LedgerError, StateBusy, StorageError

__all__ = [
    "Attempt",
    "Document",
    "Entry",
    "Ledger",
    "Outcome",
    "RunLock",
    "SourceState",
    "StateBusy",
    "Status",
    "create",
]

SCHEMA_VERSION: Final = 2
Status = Literal["queued", "sent", "failed", "cancelled"]
Outcome = Literal["sent", "temporary", "permanent"]

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS advisory_versions (
    version     TEXT PRIMARY KEY,
    country     TEXT NOT NULL,
    advisory    TEXT NOT NULL,          -- the advisory as JSON, for telling what changed
    first_seen  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    key          TEXT PRIMARY KEY,      -- hash of (recipient, version or period, format)
    kind         TEXT NOT NULL CHECK (kind IN ('alert', 'digest')),
    recipient    TEXT NOT NULL,         -- lower-cased address: one identity per person
    country      TEXT NOT NULL,
    version      TEXT NOT NULL,
    format       TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'failed', 'cancelled')),
    created_at   REAL NOT NULL,         -- also the message's Date header
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL,
    last_error   TEXT,
    sent_at      REAL,
    resends      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_due ON messages (status, next_attempt);
CREATE INDEX IF NOT EXISTS messages_recipient ON messages (recipient, country);
CREATE TABLE IF NOT EXISTS attempts (
    id          INTEGER PRIMARY KEY,
    key         TEXT NOT NULL REFERENCES messages (key),
    at          REAL NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('sent', 'temporary', 'permanent')),
    error       TEXT
);
"""
# Version 2: what is known of the official publishers followed.
_SOURCES: Final = """
CREATE TABLE IF NOT EXISTS sources (
    kind        TEXT PRIMARY KEY,       -- "us-state", "gov-uk", "canada"
    last_fetch  REAL,                   -- the last round in which the publisher answered
    last_change REAL,                   -- the last time it told news
    changed     TEXT,                   -- which advisories that news was
    last_error  TEXT,
    error_at    REAL
);
CREATE TABLE IF NOT EXISTS documents (
    url           TEXT PRIMARY KEY,     -- validators for a conditional request next time
    etag          TEXT,
    last_modified TEXT,
    memo          TEXT                  -- what was read from it, where a 304 still needs it
);
CREATE TABLE IF NOT EXISTS sightings (
    advisory    TEXT NOT NULL,          -- the advisory's key (VE@us-state)
    fingerprint TEXT NOT NULL,          -- news.fingerprint of a fetched version
    last_seen   REAL NOT NULL,
    body        TEXT,                   -- the version as JSON, for when a 304 makes it current
    PRIMARY KEY (advisory, fingerprint)
);
CREATE TABLE IF NOT EXISTS followed (
    advisory    TEXT PRIMARY KEY,       -- the advisory's key: its effective (last news) version
    body        TEXT NOT NULL,          -- as JSON
    since       REAL NOT NULL,
    fingerprint TEXT NOT NULL,          -- news.fingerprint of it
    level       INTEGER NOT NULL
);
"""


_PRIVATE: Final = 0o600  # the state holds addresses and what was sent to whom


def _failure(
    path: Path, error: sqlite3.Error, unusable: str = "state file unusable"
) -> LedgerError:
    """One line for what SQLite or the disk said: a full or failing disk is the machine's
    trouble (exit 1), anything else makes the file unusable (exit 2)."""
    name = getattr(error, "sqlite_errorname", "")
    if name.startswith(("SQLITE_FULL", "SQLITE_IOERR")) or "disk is full" in str(error):
        why = "the disk is full" if "FULL" in name or "full" in str(error) else str(error)
        return StorageError(f"{path}: cannot write the state file: {outside(why)}")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return StorageError(f"{path}: another program holds the state file; try again later")
    return LedgerError(f"{path}: {unusable} ({outside(str(error))})")


F = TypeVar("F", bound=Callable[..., Any])


def _guarded(method: F) -> F:
    @functools.wraps(method)
    def guarded(self: Ledger, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as e:
            raise _failure(self.path, e) from None

    return guarded  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class Attempt:
    """One delivery attempt's outcome, as `record_many` writes it."""

    key: str
    outcome: Outcome
    at: float
    error: str | None = None
    retry_at: float | None = None  # a temporary failure's next attempt; None: give up

    @property
    def note(self) -> str | None:
        """The reason as it is kept: any server's text, made safe to store and to print."""
        return None if self.error is None else outside(self.error)

    @property
    def status(self) -> Status:
        if self.outcome == "sent":
            return "sent"
        return "queued" if self.retry_at is not None else "failed"


@dataclass(frozen=True, slots=True)
class Entry:
    key: str
    kind: str
    recipient: str
    country: str
    version: str
    format: str
    status: Status
    created_at: float
    attempts: int = 0
    next_attempt: float | None = None
    last_error: str | None = None
    sent_at: float | None = None
    resends: int = 0


@dataclass(frozen=True, slots=True)
class Document:
    """What a publisher said of a document last time: validators, and what was read."""

    etag: str | None = None
    last_modified: str | None = None
    memo: str | None = None


@dataclass(frozen=True, slots=True)
class SourceState:
    last_fetch: float | None = None
    last_change: float | None = None
    changed: str | None = None
    last_error: str | None = None
    error_at: float | None = None


def _advisory(body: str) -> Advisory:
    data = json.loads(body)
    issued = data["issued"]
    data["issued"] = (datetime if "T" in issued else date).fromisoformat(issued)
    return Advisory.model_validate(data)


_COLUMNS: Final = ", ".join(Entry.__slots__)
_PART: Final = 500  # values bound per IN (...) query


def _parts(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(values), _PART):
        yield values[i : i + _PART]


def _marks(values: Sequence[str]) -> str:
    return ", ".join("?" * len(values))


class RunLock:
    """The `.lock` file beside a state file: one run at a time (flock). That it exists
    also tells that a run has used the state."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.path = state.with_name(f"{state.name}.lock")
        self._file: IO[str] | None = None

    def acquire(self, *, wait: bool = False) -> None:
        if self._file is None:
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
            self._file = os.fdopen(os.open(self.path, flags, _PRIVATE), "a")
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise StateBusy(f"{self.state}: another run is in progress") from None

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class Ledger:
    """One open state file. `readonly` (for --dry-run) never creates or writes anything."""

    def __init__(self, path: Path, *, readonly: bool = False, fresh: bool = False) -> None:
        """A new state is made where no state file is and no run has been (a first run),
        or on purpose (`fresh`: `advisory state init`).

        Where a run has been (the run lock beside it says so), a state file that is
        missing, empty or without our tables (`rm`, `: > file`, a failed restore) is
        refused: an accident must not make a whole list due again.
        """
        self.path = path
        self.lock = RunLock(path)
        self._identity: tuple[int, int] | None = None
        try:
            new = not path.exists()
            used = self.lock.path.exists() and not fresh
            if used and new:
                raise LedgerError(_EMPTIED.format(path=path, what="missing"))
            if used and path.stat().st_size == 0:
                raise LedgerError(_EMPTIED.format(path=path, what="empty (0 bytes)"))
            if readonly:
                uri = f"{path.resolve().as_uri()}?mode=ro" if not new else ":memory:"
                self.db = sqlite3.connect(uri, uri=True, isolation_level=None)
                self.db.execute("PRAGMA busy_timeout = 10000")
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                if new:  # private from the first byte; SQLite gives its -wal the same mode
                    with suppress(FileExistsError):
                        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE))
                self.db = sqlite3.connect(path, isolation_level=None)
                self.db.execute("PRAGMA busy_timeout = 10000")
                self.db.execute("PRAGMA journal_mode = WAL")
                self.db.execute("PRAGMA synchronous = FULL")
                facts = path.stat()
                self._identity = (facts.st_dev, facts.st_ino)
            self._migrate(create=not readonly, used=used)
        except sqlite3.Error as e:
            raise _failure(path, e, "not a usable state file") from None
        except OSError as e:
            raise LedgerError(f"{path}: cannot open the state file: {e.strerror}") from None

    def _migrate(self, *, create: bool, used: bool) -> None:
        """Create or upgrade the schema; read-only, what is missing is empty, in memory."""
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        tables = self.db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if version == 0 and tables:
            version = -1  # tables, but not ours
        elif version == 0 and used:
            raise LedgerError(_EMPTIED.format(path=self.path, what="without any state in it"))
        missing = {0: _SCHEMA + _SOURCES, 1: _SOURCES}.get(version)
        if missing is None and version != SCHEMA_VERSION:
            raise LedgerError(f"{self.path}: not an advisory state file (schema {max(version, 0)})")
        if missing and create:
            self.db.executescript(
                f"BEGIN IMMEDIATE; {missing}; PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            )
        elif missing:
            self.db.executescript(
                f"ATTACH ':memory:' AS mem; {missing.replace('EXISTS ', 'EXISTS mem.')}"
            )

    def close(self) -> None:
        self.db.close()
        self.lock.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def exclusive(self, waiting: Callable[[], None]) -> Iterator[None]:
        """One run at a time per state file: a second run waits, so nothing is planned twice."""
        try:
            self.acquire()
        except StateBusy:
            waiting()
            self.acquire(wait=True)
        try:
            yield
        finally:
            self.release()

    def acquire(self, *, wait: bool = False) -> None:
        """Take the run lock; `StateBusy` if another run holds it. A file no longer the
        one this connection writes to (replaced, removed) is refused: what a run
        recorded there would be read by nobody."""
        self.lock.acquire(wait=wait)
        try:
            facts = self.path.stat()
            same = self._identity in (None, (facts.st_dev, facts.st_ino))
        except OSError:
            same = False
        if not same:
            self.lock.release()
            raise LedgerError(
                f"{self.path}: the state file was replaced or removed while this process "
                "had it open; restart it"
            )

    def release(self) -> None:
        self.lock.release()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self._execute("BEGIN IMMEDIATE")
        try:
            yield
            self._execute("COMMIT")
        except BaseException:
            # Never left open: a connection held by `serve` would keep the write lock.
            if self.db.in_transaction:
                with suppress(sqlite3.Error):  # what failed is what is reported
                    self.db.execute("ROLLBACK")
            raise

    def _execute(self, sql: str) -> None:
        try:
            self.db.execute(sql)
        except sqlite3.Error as e:
            raise _failure(self.path, e) from None

    # --- reading ---------------------------------------------------------

    def entries(self, *, status: Status) -> list[Entry]:
        """Every entry with `status`, oldest first (queued and failed ones are few)."""
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM messages WHERE status = ? ORDER BY created_at", (status,)
        )
        return [Entry(*row) for row in rows]

    def entries_for(self, keys: Sequence[str]) -> dict[str, Entry]:
        """The entries with these keys, if any."""
        out: dict[str, Entry] = {}
        for part in _parts(keys):
            rows = self.db.execute(
                f"SELECT {_COLUMNS} FROM messages WHERE key IN ({_marks(part)})", part
            )
            out.update((row[0], Entry(*row)) for row in rows)
        return out

    def last_sent_to(
        self, recipients: Iterable[str], keys: Iterable[str]
    ) -> dict[tuple[str, str], tuple[str, str]]:
        """(recipient, advisory key) -> (version, message key) of the alert about it the
        recipient last received.

        The `country` column holds the advisory's key: its country, and its publisher
        for an official publisher's view (`VE@us-state`). A message once delivered counts
        as received even while a forced resend of it is pending or has failed.
        """
        wanted = set(keys)
        out: dict[tuple[str, str], tuple[str, str]] = {}
        for part in _parts(list(recipients)):
            rows = self.db.execute(
                "SELECT recipient, country, version, key, max(sent_at) FROM messages "
                f"WHERE sent_at IS NOT NULL AND kind = 'alert' AND recipient IN ({_marks(part)}) "
                "GROUP BY recipient, country",
                part,
            )
            out.update(((r, c), (v, k)) for r, c, v, k, _ in rows if c in wanted)
        return out

    def advisory(self, version: str) -> Advisory | None:
        """An advisory version as it was sent, to say what changed since."""
        row = self.db.execute(
            "SELECT advisory FROM advisory_versions WHERE version = ?", (version,)
        ).fetchone()
        return None if row is None else _advisory(row[0])

    def counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT status, count(*) FROM messages GROUP BY status")
        return dict(rows)

    # --- official sources ------------------------------------------------

    def followed(self) -> list[Advisory]:
        """Each publisher's effective advisory per country: its last version that was news."""
        rows = self.db.execute("SELECT body FROM followed ORDER BY advisory")
        return [_advisory(body) for (body,) in rows]

    def sightings(self, key: str) -> dict[str, float]:
        """Fingerprint -> when it was last fetched, for every version of advisory `key`."""
        rows = self.db.execute(
            "SELECT fingerprint, last_seen FROM sightings WHERE advisory = ?", (key,)
        )
        return dict(rows)

    def document(self, url: str) -> Document:
        row = self.db.execute(
            "SELECT etag, last_modified, memo FROM documents WHERE url = ?", (url,)
        ).fetchone()
        return Document(*row) if row else Document()

    def source_states(self) -> dict[str, SourceState]:
        rows = self.db.execute(
            "SELECT kind, last_fetch, last_change, changed, last_error, error_at FROM sources"
        )
        return {row[0]: SourceState(*row[1:]) for row in rows}

    def sighted(
        self, key: str, fingerprint: str, now: float, advisory: Advisory | None = None
    ) -> None:
        """A version of advisory `key` is published as of `now` (fetched, or a 304 for it)."""
        self.db.execute(
            "INSERT INTO sightings VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
            "last_seen = excluded.last_seen, body = coalesce(excluded.body, body)",
            (key, fingerprint, now, advisory.model_dump_json() if advisory else None),
        )

    def sighting(self, key: str, fingerprint: str) -> Advisory | None:
        """A version seen in the last window, as it was fetched."""
        row = self.db.execute(
            "SELECT body FROM sightings WHERE advisory = ? AND fingerprint = ?", (key, fingerprint)
        ).fetchone()
        return _advisory(row[0]) if row and row[0] else None

    def follow(self, advisory: Advisory, fingerprint: str, now: float) -> None:
        """News: this version becomes the publisher's current advisory for its country."""
        self.db.execute(
            "INSERT OR REPLACE INTO followed VALUES (?, ?, ?, ?, ?)",
            (advisory.key, advisory.model_dump_json(), now, fingerprint, int(advisory.level)),
        )

    def current_prints(self) -> dict[str, tuple[str, int]]:
        """Advisory key -> fingerprint and level of its current version, without reading it."""
        rows = self.db.execute("SELECT advisory, fingerprint, level FROM followed")
        return {key: (printed, level) for key, printed, level in rows}

    def keep_document(self, url: str, document: Document) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?)",
            (url, document.etag, document.last_modified, document.memo),
        )

    def fetched(
        self,
        kind: str,
        now: float,
        *,
        answered: bool,
        changed: Sequence[str],
        errors: Sequence[str],
    ) -> None:
        """One round of a source: its last fetch if the publisher answered, its last
        change if there was news, its last error if anything failed."""
        self.db.execute("INSERT OR IGNORE INTO sources (kind) VALUES (?)", (kind,))
        if answered:
            self.db.execute("UPDATE sources SET last_fetch = ? WHERE kind = ?", (now, kind))
        if errors:
            self.db.execute(
                "UPDATE sources SET last_error = ?, error_at = ? WHERE kind = ?",
                (outside("; ".join(errors), 4000), now, kind),
            )
        if changed:
            self.db.execute(
                "UPDATE sources SET last_change = ?, changed = ? WHERE kind = ?",
                (now, " ".join(changed), kind),
            )

    def forget_sightings(self, before: float) -> None:
        """Versions not seen since `before` no longer hold back news."""
        self.db.execute("DELETE FROM sightings WHERE last_seen < ?", (before,))

    # --- writing ---------------------------------------------------------

    def remember(self, advisory: Advisory, now: float) -> None:
        """Keep every advisory version that is queued, so a later one can say what changed."""
        self.db.execute(
            "INSERT OR IGNORE INTO advisory_versions VALUES (?, ?, ?, ?)",
            (advisory.version, advisory.key, advisory.model_dump_json(), now),
        )

    def enqueue(self, entries: Iterable[Entry]) -> None:
        """New rows as queued; an existing row (a --force resend) is queued again."""
        self.db.executemany(
            f"""INSERT INTO messages ({_COLUMNS}) VALUES ({", ".join("?" * len(Entry.__slots__))})
                ON CONFLICT (key) DO UPDATE SET
                    status = 'queued', next_attempt = excluded.next_attempt,
                    resends = excluded.resends, attempts = 0, created_at = excluded.created_at""",
            [
                (e.key, e.kind, e.recipient, e.country, e.version, e.format, "queued",
                 e.created_at, 0, e.next_attempt, None, None, e.resends)
                for e in entries
            ],
        )  # fmt: skip

    def cancel(self, keys: Iterable[str], reason: str) -> None:
        self.db.executemany(
            "UPDATE messages SET status = 'cancelled', last_error = ?, next_attempt = NULL "
            "WHERE key = ? AND status = 'queued'",
            [(outside(reason), key) for key in keys],
        )

    def record_many(self, attempts: Sequence[Attempt]) -> None:
        """Log attempts in one durable transaction (one fsync for many messages)."""
        with self.transaction():
            self.db.executemany(
                "INSERT INTO attempts (key, at, outcome, error) VALUES (?, ?, ?, ?)",
                [(a.key, a.at, a.outcome, a.note) for a in attempts],
            )
            self.db.executemany(
                """UPDATE messages SET status = ?, attempts = attempts + 1, next_attempt = ?,
                       last_error = ?, sent_at = coalesce(?, sent_at) WHERE key = ?""",
                [(a.status, a.retry_at, a.note, a.at if a.outcome == "sent" else None, a.key)
                 for a in attempts],
            )  # fmt: skip


def create(path: Path) -> None:
    """`advisory state init`: a new, empty state where none is, or over an emptied one;
    never over a state, nor while a run holds the file."""
    if path.exists() and path.stat().st_size:
        try:
            with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
                held = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.Error:
            held = 1
        if held:
            raise LedgerError(f"{path}: is not empty (a state, or another file); not replaced")
    lock = RunLock(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            lock.acquire()
            for name in (path.name, f"{path.name}-wal", f"{path.name}-shm"):
                path.with_name(name).unlink(missing_ok=True)
            Ledger(path, fresh=True).close()
        finally:
            lock.close()
    except OSError as e:
        raise LedgerError(f"{path}: cannot start a new state: {e.strerror}") from None


_EMPTIED: Final = (
    "{path}: the state file is {what}, where runs have been: starting afresh would send "
    "everything again; restore it from a backup, or start a new state on purpose with "
    "`advisory state init`"
)

# Every query and write method answers SQLite's and the disk's errors in one line naming
# the file (the context managers and the lock translate their own).
for _name, _method in list(vars(Ledger).items()):
    if (
        callable(_method)
        and not _name.startswith("_")
        and _name not in ("transaction", "exclusive", "acquire", "release", "close")
    ):
        setattr(Ledger, _name, _guarded(_method))

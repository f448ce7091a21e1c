"""The state in one SQLite file beside its `.lock`: WAL and full sync, so a crash at any
point leaves a valid file; private to its owner from the first byte."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from pathlib import Path

from advisory.errors import StateError
from advisory.state.sql.tables import Tables
from advisory.state.sqlite.db import BUSY_TIMEOUT, PRIVATE, SqliteDb, failure
from advisory.state.sqlite.lock import RunLock
from advisory.state.sqlite.migrations import EMPTIED, migrate, pending

__all__ = ["RunLock", "SqliteStore", "create"]


class SqliteStore(Tables):
    """One open state file. `readonly` (check, status, a dry run) never creates, writes
    or leaves anything behind; what an older file lacks is upgraded in memory only."""

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
                raise StateError(EMPTIED.format(path=path, what="missing"))
            if used and path.stat().st_size == 0:
                raise StateError(EMPTIED.format(path=path, what="empty (0 bytes)"))
            self.db = self._reader(path, new, used) if readonly else self._writer(path, new, used)
        except sqlite3.Error as e:
            raise failure(path, e, "not a usable state file") from None
        except OSError as e:
            raise StateError(f"{path}: cannot open the state file: {e.strerror}") from None
        super().__init__(SqliteDb(self.db, path))

    def _writer(self, path: Path, new: bool, used: bool) -> sqlite3.Connection:
        path.parent.mkdir(parents=True, exist_ok=True)
        if new:  # private from the first byte; SQLite gives its -wal the same mode
            with suppress(FileExistsError):
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE))
        db = sqlite3.connect(path, isolation_level=None)
        db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = FULL")
        # The outbox's keys and tokens are hashes: each message's rows land on pages all
        # over the file. 8 MiB of them kept (SQLite keeps 2) saves reading many again.
        db.execute("PRAGMA cache_size = -8192")
        # And a page dirtied by several chunks' commits is written back to the file once
        # a checkpoint, not once a commit: checkpoints at 40 MiB of log, not SQLite's 4.
        db.execute("PRAGMA wal_autocheckpoint = 10000")
        facts = path.stat()
        self._identity = (facts.st_dev, facts.st_ino)
        migrate(db, path, used=used)
        return db

    @staticmethod
    def _reader(path: Path, new: bool, used: bool) -> sqlite3.Connection:
        """Reads only. A connection that could write (but will not: `query_only`) is the
        one that, closing last, takes its -wal and -shm files away with it."""
        if new:
            db = sqlite3.connect(":memory:", isolation_level=None)
        else:
            uri = path.resolve().as_uri()
            try:
                db = sqlite3.connect(f"{uri}?mode=rw", uri=True, isolation_level=None)
            except sqlite3.OperationalError:  # ours to read, not to write
                db = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None)
            db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
            if pending(db, path, used=used):  # an older file: upgraded in memory only
                copy = sqlite3.connect(":memory:", isolation_level=None)
                with closing(db):
                    db.backup(copy)
                db = copy
        migrate(db, path, used=used)
        db.execute("PRAGMA query_only = ON")
        return db

    @property
    def where(self) -> str:
        return str(self.path)

    shared = False  # one run at a time (the run lock)

    def close(self) -> None:
        self.db.close()
        self.lock.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
            raise StateError(
                f"{self.path}: the state file was replaced or removed while this process "
                "had it open; restart it"
            )

    def release(self) -> None:
        self.lock.release()

    @contextmanager
    def lead(self, job: str) -> Iterator[bool]:
        yield True  # the run lock already makes every job this run's alone


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
            raise StateError(f"{path}: is not empty (a state, or another file); not replaced")
    lock = RunLock(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            lock.acquire()
            for name in (path.name, f"{path.name}-wal", f"{path.name}-shm"):
                path.with_name(name).unlink(missing_ok=True)
            SqliteStore(path, fresh=True).close()
        finally:
            lock.close()
    except OSError as e:
        raise StateError(f"{path}: cannot start a new state: {e.strerror}") from None

"""The SQLite connection as the state's tables use it, and one line for any error SQLite
or the disk gives."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from pathlib import Path
from typing import Final

from advisory.domain.text import outside
from advisory.errors import StateError, StorageError
from advisory.state.sql.db import Db, Params, Rows

__all__ = ["PRIVATE", "SqliteDb", "failure"]

PRIVATE: Final = 0o600  # the state holds addresses and what was sent to whom
BUSY_TIMEOUT: Final = 10.0  # seconds a writer waits for another to finish


def failure(path: Path, error: sqlite3.Error, unusable: str = "state file unusable") -> StateError:
    """One line for what SQLite or the disk said: a full or failing disk is the machine's
    trouble (exit 1), anything else makes the file unusable (exit 2)."""
    name = getattr(error, "sqlite_errorname", "")
    if name.startswith(("SQLITE_FULL", "SQLITE_IOERR")) or "disk is full" in str(error):
        why = "the disk is full" if "FULL" in name or "full" in str(error) else str(error)
        return StorageError(f"{path}: cannot write the state file: {outside(why)}")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return StorageError(f"{path}: another program holds the state file; try again later")
    return StateError(f"{path}: {unusable} ({outside(str(error))})")


class SqliteDb(Db):
    errors = (sqlite3.Error,)

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.connection = connection
        self.path = path
        self.where = str(path)
        self._writing = False  # within the transaction `writing` began

    def run(self, sql: str, params: Params = ()) -> Rows:
        return self.connection.execute(sql, params)

    def many(self, sql: str, rows: Iterable[Params]) -> None:
        self.connection.executemany(sql, rows)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._writing:  # (part of the one `writing` began)
            yield
            return
        self._execute("BEGIN IMMEDIATE")
        with self._ended():
            yield

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        """While another process holds the write lock (a shard's commit takes a few
        ms), this one's loop goes on sending: SQLite's own wait would stop it."""
        deadline = asyncio.get_running_loop().time() + BUSY_TIMEOUT
        delay = 0.001
        while not self._began(last=asyncio.get_running_loop().time() >= deadline):
            await asyncio.sleep(delay)
            delay = min(2 * delay, 0.01)
        self._writing = True
        try:
            with self._ended():
                yield
        finally:
            self._writing = False

    def _began(self, *, last: bool) -> bool:
        """BEGIN IMMEDIATE at once; False if another connection writes (StorageError
        if this was the `last` try). Others on this connection wait as ever."""
        try:
            self.connection.execute("PRAGMA busy_timeout = 0")
            try:
                self.connection.execute("BEGIN IMMEDIATE")
            finally:
                self.connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
        except sqlite3.Error as e:
            busy = getattr(e, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY
            if busy and not last:
                return False
            raise failure(self.path, e) from None
        return True

    @contextmanager
    def _ended(self) -> Iterator[None]:
        """The transaction begun committed, or rolled back if its body fails."""
        try:
            yield
            self._execute("COMMIT")
        except BaseException:
            # Never left open: a connection held by `serve` would keep the write lock.
            if self.connection.in_transaction:
                with suppress(sqlite3.Error):  # what failed is what is reported
                    self.connection.execute("ROLLBACK")
            raise

    def ids(self, count: int) -> int:
        # The largest id is read off the table's own key: no scan, however long. (Within
        # the transaction that writes them: one writer at a time.)
        return int(self.connection.execute("SELECT max(id) FROM attempts").fetchone()[0] or 0) + 1

    def failure(self, error: Exception) -> StateError:
        assert isinstance(error, sqlite3.Error)
        return failure(self.path, error)

    def _execute(self, sql: str) -> None:
        try:
            self.connection.execute(sql)
        except sqlite3.Error as e:
            raise failure(self.path, e) from None

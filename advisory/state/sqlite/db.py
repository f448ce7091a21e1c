"""The SQLite connection as the state's tables use it, and one line for any error SQLite
or the disk gives."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Final

from advisory.domain.text import outside
from advisory.errors import StateError, StorageError
from advisory.state.sql.db import Db, Params, Rows

__all__ = ["PRIVATE", "SqliteDb", "failure"]

PRIVATE: Final = 0o600  # the state holds addresses and what was sent to whom


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

    def run(self, sql: str, params: Params = ()) -> Rows:
        return self.connection.execute(sql, params)

    def many(self, sql: str, rows: Iterable[Params]) -> None:
        self.connection.executemany(sql, rows)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self._execute("BEGIN IMMEDIATE")
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

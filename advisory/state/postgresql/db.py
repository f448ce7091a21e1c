"""The PostgreSQL connection as the state's tables use it: their SQL said PostgreSQL's
way, one line for anything the server or the network says, and a new connection once
the server is back (a restart, a failover) between two transactions."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Final

import psycopg

from advisory.domain.text import outside
from advisory.domain.urls import Database
from advisory.errors import StateContended, StateError, StorageError
from advisory.state.sql.db import Db, Params, Rows

__all__ = ["PgDb", "connect", "failure"]

CONNECT_TIMEOUT: Final = 10  # seconds to reach the server
# A transaction's lock numbers attempts in the order they are committed, by every process.
NUMBERING: Final = 0x61647601
# What the server says when the fault is in the config (exit 2), not a passing one (exit 1).
_REFUSED: Final = re.compile(
    r"password authentication failed|no password supplied|role \S+ does not exist"
    r"|database \S+ does not exist|permission denied|no pg_hba\.conf entry"
)


def failure(database: Database, error: Exception) -> StateError:
    """One line naming `service.state`: the server unreachable or gone (exit 1, the next
    run resumes), or the login, the database or its tables refused (exit 2)."""
    said = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if database.password:
        said = said.replace(database.password, "***")
    said = outside(said, 300)
    where = f"service.state ({database.url})"
    if _REFUSED.search(said) or isinstance(error, psycopg.errors.InsufficientPrivilege):
        return StateError(f"{where}: the server refused: {said}")
    state = getattr(error, "sqlstate", None) or ""
    if state.startswith("40"):  # a deadlock the server broke, a serialization failure
        return StateContended(
            f"{where}: another process wrote the same rows at once ({said}); "
            "what is queued stays queued"
        )
    if state.startswith("53"):  # the server's disk, memory or connections
        return StorageError(f"{where}: the server is out of resources ({said})")
    if isinstance(error, psycopg.OperationalError):
        return StorageError(
            f"{where}: cannot reach the server ({said}); what is queued stays queued"
        )
    return StateError(f"{where}: {said}")


def connect(database: Database) -> psycopg.Connection[Any]:
    """A connection in autocommit (a statement outside a transaction is one)."""
    try:
        return psycopg.connect(
            database.url, password=database.password, autocommit=True,
            connect_timeout=CONNECT_TIMEOUT, application_name="advisory",
        )  # fmt: skip
    except psycopg.Error as e:
        raise failure(database, e) from None


@functools.lru_cache(maxsize=512)
def _said(sql: str) -> str:
    """The tables' SQL, PostgreSQL's way: %s and %(name)s parameters, `seq` for rowid."""
    sql = sql.replace("%", "%%").replace("?", "%s")
    sql = re.sub(r"(?<![:\w]):([a-z_]\w*)", r"%(\1)s", sql)
    return re.sub(r"\browid\b", "seq", sql)


class PgDb(Db):
    errors = (psycopg.Error,)

    def __init__(self, database: Database) -> None:
        self.database = database
        self.where = database.url
        self._connection: psycopg.Connection[Any] | None = None
        self._depth = 0  # transactions open
        self.pinned = 0  # leads held: the session that holds them must not be replaced
        self._closed = False

    @property
    def connection(self) -> psycopg.Connection[Any]:
        """The connection; a new one where the last was lost, outside any transaction."""
        if self._closed:
            raise StateError(f"service.state ({self.database.url}): closed")
        lost = self._connection is None or self._connection.closed or self._connection.broken
        if lost and self.pinned:
            raise StorageError(
                f"service.state ({self.database.url}): the connection was lost while this "
                "process led a job; the job stops, another process may take it"
            )
        if lost and self._depth == 0:
            if self._connection is not None:
                self._connection.close()
            self._connection = connect(self.database)
        assert self._connection is not None
        return self._connection

    def run(self, sql: str, params: Params = ()) -> Rows:
        return self.connection.execute(_said(sql), params)

    def many(self, sql: str, rows: Iterable[Params]) -> None:
        rows = list(rows)
        if rows:
            with self.connection.cursor() as cursor:
                cursor.executemany(_said(sql), rows)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        try:
            with self.connection.transaction():
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
        except psycopg.Error as e:
            raise failure(self.database, e) from None

    def ids(self, count: int) -> int:
        self.connection.execute("SELECT pg_advisory_xact_lock(%s)", (NUMBERING,))
        row = self.connection.execute("SELECT coalesce(max(id), 0) + 1 FROM attempts").fetchone()
        assert row is not None
        return int(row[0])

    def failure(self, error: Exception) -> StateError:
        return failure(self.database, error)

    def close(self) -> None:
        self._closed = True
        if self._connection is not None:
            self._connection.close()

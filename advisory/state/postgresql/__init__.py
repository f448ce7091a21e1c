"""The state in a PostgreSQL database, shared by any number of processes on any number
of machines: each plans the same runs (what is queued twice is queued once), claims
the messages it sends for a lease it renews while it works, and takes the leadership of
a job (fetching, digests, the duty of care) for as long as its session lasts."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Final

import psycopg

from advisory.domain.urls import Database
from advisory.errors import StateBusy, StateError
from advisory.state.postgresql.db import PgDb, connect, failure
from advisory.state.postgresql.migrations import migrate, pending
from advisory.state.postgresql.outbox import PgOutbox
from advisory.state.sql.tables import Tables

__all__ = ["PgStore", "create", "exists"]

# The jobs one process at a time does, each an advisory lock of its own.
_LEADS: Final = {"fetch": 0x61647610, "digest": 0x61647611, "duty": 0x61647612}


class PgStore(Tables):
    """One open connection to a shared state. `readonly` (check, status, a dry run)
    writes nothing: a database without our tables (or an older schema) is read as it
    would be once made, inside a transaction that is never committed."""

    def __init__(self, database: Database, *, readonly: bool = False) -> None:
        self.database = database
        self.readonly = readonly
        self.pg = PgDb(database)
        # Who holds a claim: this process, on this machine, this time it opened the state.
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._held = False
        try:
            connection = self.pg.connection
            if readonly:
                connection.execute("BEGIN")  # never committed: close() rolls it back
                migrate(connection, database, reader=True)
                connection.execute("SET TRANSACTION READ ONLY")
                self.pg._depth = 1  # the connection is never replaced while it is open
            else:
                with connection.transaction():
                    migrate(connection, database)
        except psycopg.Error as e:
            self.pg.close()
            raise failure(database, e) from None
        except StateError:
            self.pg.close()
            raise
        super().__init__(self.pg, PgOutbox(self.pg, self.worker))

    @property
    def where(self) -> str:
        return f"service.state ({self.database.url})"

    shared = True

    def acquire(self, *, wait: bool = False) -> None:
        """One run at a time in this process; other processes run beside it."""
        if self._held and not wait:
            raise StateBusy(f"{self.where}: another run of this process is in progress")
        self._held = True

    def release(self) -> None:
        self._held = False

    @contextmanager
    def lead(self, job: str) -> Iterator[bool]:
        """Whether this process leads `job` now (another process may): held until the
        block ends, or its session does (a process that died leads nothing)."""
        try:
            taken = self.sql.run("SELECT pg_try_advisory_lock(?)", (_LEADS[job],)).fetchone()
        except psycopg.Error as e:
            raise failure(self.database, e) from None
        if not taken or not taken[0]:
            yield False
            return
        self.pg.pinned += 1
        try:
            yield True
        finally:
            self.pg.pinned -= 1
            with suppress(psycopg.Error, StateError):  # a session lost took its locks
                self.sql.run("SELECT pg_advisory_unlock(?)", (_LEADS[job],))

    def close(self) -> None:
        self.pg.close()

    def __enter__(self) -> PgStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def exists(database: Database) -> bool:
    """Whether the database holds a state (our tables), without making one."""
    connection = connect(database)
    try:
        with connection.transaction():
            return not pending(connection, database)
    except psycopg.Error as e:
        raise failure(database, e) from None
    finally:
        connection.close()


def create(database: Database) -> None:
    """`advisory state init`: our tables in an empty database, never over a state."""
    connection = connect(database)
    try:
        with connection.transaction():
            if not pending(connection, database):
                raise StateError(f"service.state ({database.url}): holds a state; not replaced")
            migrate(connection, database)
    except psycopg.Error as e:
        raise failure(database, e) from None
    finally:
        connection.close()

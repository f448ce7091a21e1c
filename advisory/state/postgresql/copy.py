"""`advisory state migrate --to URL`: an SQLite state copied into an empty PostgreSQL
database, every table as it is (history, versions, the publishers' cache, suppressions,
acknowledgements), in one transaction, rows in their order; the file left as it was."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Final

import psycopg

from advisory.domain.urls import Database
from advisory.errors import StateError
from advisory.state.postgresql.db import connect, failure
from advisory.state.postgresql.migrations import migrate
from advisory.state.sqlite import SqliteStore
from advisory.state.sqlite.db import failure as file_failure

__all__ = ["TABLES", "copy_state"]

# Each table and its columns, parents before the rows that name them; `seq` is the
# order SQLite kept in its rowid.
TABLES: Final = {
    "advisory_versions": "seq, version, advisory, body, first_seen",
    "messages": "seq, key, kind, recipient, advisory, version, format, status, created_at, "
    "attempts, next_attempt, last_error, sent_at, resends, sent_seq",
    "attempts": "id, key, at, outcome, error",
    "carried": "key, recipient, advisory, version",
    "publishers": "kind, last_fetch, last_change, changed, last_error, error_at",
    "documents": "url, etag, last_modified, memo",
    "sightings": "advisory, fingerprint, last_seen, body",
    "followed": "advisory, body, since, fingerprint, level",
    "suppressions": "address, reason, since, detail",
    "tokens": "token, address",
    "told": "seq, key, recipient, email, name, advisory, version, country, starts, ends, "
    "token, summary, reminder, escalation",
    "acks": "recipient, version, at, how, detail, reported",
}


def copy_state(path: Path, database: Database) -> dict[str, int]:
    """Table -> rows copied. The file is held (no run may write it meanwhile); a
    database that holds anything is refused, and nothing is written to it."""
    store = SqliteStore(path, readonly=True)  # an older file is upgraded in memory only
    try:
        store.acquire()
        target = connect(database)
        try:
            with target.transaction():
                migrate(target, database)
                if held := [t for t in TABLES if target.execute(
                        f"SELECT EXISTS (SELECT 1 FROM {t})").fetchone() != (False,)]:  # fmt: skip
                    raise StateError(
                        f"service.state ({database.url}): is not empty (it has {held[0]}); "
                        "the copy goes into an empty database only"
                    )
                return {table: _copy(store.db, target, table) for table in TABLES}
        except psycopg.Error as e:
            raise failure(database, e) from None
        finally:
            target.close()
    except sqlite3.Error as e:
        raise file_failure(path, e) from None
    finally:
        store.close()


def _copy(source: sqlite3.Connection, target: psycopg.Connection[object], table: str) -> int:
    columns = TABLES[table]
    read = columns.replace("seq,", "rowid,", 1) if columns.startswith("seq,") else columns
    count = 0
    with target.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        order = "token" if table == "tokens" else "rowid"  # (a table without rowids)
        for row in source.execute(f"SELECT {read} FROM {table} ORDER BY {order}"):
            copy.write_row(row)
            count += 1
    if columns.startswith("seq,"):  # what comes next follows on
        target.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'seq'), "
            f"(SELECT coalesce(max(seq), 0) + 1 FROM {table}), false)"
        )
    return count

"""The state store: the outbox (messages, attempts, advisory versions), the publishers'
cache, the suppressions and the acknowledgements, behind the interface in `base`; the
tables in `sql`, in one SQL for both engines (`sqlite`: a file; `postgresql`: a
database several processes share).

Imports the domain only.
"""

from __future__ import annotations

from pathlib import Path

from advisory.domain.urls import Database
from advisory.state.base import Outbox, PublisherCache, Store

__all__ = ["Outbox", "PublisherCache", "Store", "Where", "create", "exists", "open_store"]

Where = Path | Database  # a state file, or a database


def open_store(where: Where, *, readonly: bool = False) -> Store:
    """The state at `where`. `readonly` (check, status, a dry run) writes nothing."""
    if isinstance(where, Database):
        from advisory.state.postgresql import PgStore  # the driver, only where it is used

        return PgStore(where, readonly=readonly)
    from advisory.state.sqlite import SqliteStore

    return SqliteStore(where, readonly=readonly)


def exists(where: Where) -> bool:
    """Whether a state is there, or has been (a run's lock beside where a file was)."""
    if isinstance(where, Database):
        from advisory.state.postgresql import exists as on_server

        return on_server(where)
    from advisory.state.sqlite import RunLock

    return where.exists() or RunLock(where).path.exists()


def create(where: Where) -> None:
    """`advisory state init`: a new, empty state, never over one."""
    if isinstance(where, Database):
        from advisory.state.postgresql import create as create_on_server

        create_on_server(where)
        return
    from advisory.state.sqlite import create as create_sqlite

    create_sqlite(where)

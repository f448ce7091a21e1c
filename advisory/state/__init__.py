"""The state store: the outbox (messages, attempts, advisory versions) and the
publishers' cache, behind the interface in `base`; one engine per module (`sqlite`).

Imports the domain only.
"""

from __future__ import annotations

from pathlib import Path

from advisory.state.base import Outbox, PublisherCache, Store

__all__ = ["Outbox", "PublisherCache", "Store", "create", "open_store"]


def open_store(path: Path, *, readonly: bool = False) -> Store:
    """The state at `path`. `readonly` (check, status, a dry run) writes nothing."""
    from advisory.state.sqlite import SqliteStore

    return SqliteStore(path, readonly=readonly)


def create(path: Path) -> None:
    """`advisory state init`: a new, empty state, never over one."""
    from advisory.state.sqlite import create as create_sqlite

    create_sqlite(path)

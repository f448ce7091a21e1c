"""The state store: the outbox (messages, attempts, advisory versions) and the
publishers' cache, behind the interface in `base`; one engine per module (`sqlite`).

Imports the domain only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from advisory.errors import StateBusy
from advisory.state.base import Store

__all__ = ["Store", "create", "held", "open_store"]


def open_store(path: Path, *, readonly: bool = False) -> Store:
    """The state at `path`. `readonly` (check, status, a dry run) writes nothing."""
    from advisory.state.sqlite import SqliteStore

    return SqliteStore(path, readonly=readonly)


def create(path: Path) -> None:
    """`advisory state init`: a new, empty state, never over one."""
    from advisory.state.sqlite import create as create_sqlite

    create_sqlite(path)


@contextmanager
def held(store: Store, waiting: Callable[[], None]) -> Iterator[None]:
    """One run at a time per state: a second run says it waits, then waits its turn."""
    try:
        store.acquire()
    except StateBusy:
        waiting()
        store.acquire(wait=True)
    try:
        yield
    finally:
        store.release()

"""What every part of the SQLite state shares: one line for any error SQLite or the
disk gives, and the helpers for queries over many keys."""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final, TypeVar

from advisory.domain.models import Advisory
from advisory.domain.text import outside
from advisory.errors import StateError, StorageError

__all__ = ["PRIVATE", "advisory_from", "failure", "guarded", "marks", "parts"]

PRIVATE: Final = 0o600  # the state holds addresses and what was sent to whom
_PART: Final = 500  # values bound per IN (...) query


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


C = TypeVar("C", bound=type)


def guarded(cls: C) -> C:
    """Every public method of `cls` answers SQLite's and the disk's errors in one line
    naming the file (`self.path`), never a traceback."""

    def wrap(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except sqlite3.Error as e:
                raise failure(self.path, e) from None

        return call

    for name, method in list(vars(cls).items()):
        if callable(method) and not name.startswith("_"):
            setattr(cls, name, wrap(method))
    return cls


def parts(values: Sequence[str], times: int = 1) -> Iterator[Sequence[str]]:
    """`values` in parts small enough to be bound `times` over in one query."""
    size = _PART // times
    for i in range(0, len(values), size):
        yield values[i : i + size]


def marks(values: Sequence[str]) -> str:
    return ", ".join("?" * len(values))


def advisory_from(body: str) -> Advisory:
    """An advisory kept as JSON."""
    data = json.loads(body)
    issued = data["issued"]
    data["issued"] = (datetime if "T" in issued else date).fromisoformat(issued)
    return Advisory.model_validate(data)

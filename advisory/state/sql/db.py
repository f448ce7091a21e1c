"""What the SQL engines share: the connection as the state's tables use it (`Db`), one
line for any error an engine gives (`guarded`), and the helpers for queries over many keys.

The tables' queries are written once, in the SQL both engines speak (SQLite's `?`
and `:name` parameters, `rowid` for the order rows were written in); an engine's `Db`
says them its own way.
"""

from __future__ import annotations

import functools
import json
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, asynccontextmanager
from datetime import date, datetime
from typing import Any, Final, Protocol, TypeVar

from advisory.domain.models import Advisory
from advisory.errors import StateError

__all__ = ["Db", "Rows", "advisory_from", "guarded", "marks", "parts"]

_PART: Final = 500  # values bound per IN (...) query

Params = Sequence[Any] | Mapping[str, Any]


class Rows(Protocol):
    """A statement's result, as both drivers' cursors give it."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...


class Db(ABC):
    """One connection to a state, as its tables use it."""

    where: str  # how messages name the state: its file, or its database
    errors: tuple[type[Exception], ...]  # what the driver raises

    @abstractmethod
    def run(self, sql: str, params: Params = ()) -> Rows: ...

    @abstractmethod
    def many(self, sql: str, rows: Iterable[Params]) -> None: ...

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """All writes within it, or none: durable once it ends."""

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        """A `transaction` (those begun within it are part of it) that a run's event
        loop begins: an engine whose writers take turns waits for its turn without
        holding the loop up."""
        with self.transaction():
            yield

    @abstractmethod
    def ids(self, count: int) -> int:
        """The first of `count` new attempt ids, in the order attempts are made (within
        a transaction)."""

    @abstractmethod
    def failure(self, error: Exception) -> StateError:
        """One line for what the engine said."""


C = TypeVar("C", bound=type)


def guarded(cls: C) -> C:
    """Every public method of `cls` answers its engine's errors in one line naming the
    state (`self.db`), never a traceback."""

    def wrap(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except self.db.errors as e:
                raise self.db.failure(e) from None

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

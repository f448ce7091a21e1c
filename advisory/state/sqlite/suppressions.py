"""The suppression list in SQLite: who receives nothing, since when, and why."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable
from pathlib import Path

from advisory.domain.text import outside
from advisory.state.base import Reason, Suppression
from advisory.state.sqlite.db import guarded, marks, parts

__all__ = ["SqliteSuppressions"]


@guarded
class SqliteSuppressions:
    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.db = db
        self.path = path

    def suppress(self, address: str, reason: Reason, now: float, detail: str = "") -> bool:
        added = self.db.execute(  # one statement: durable at once, outside any run
            "INSERT OR IGNORE INTO suppressions (address, reason, since, detail) "
            "VALUES (?, ?, ?, ?)",
            (address.lower(), reason, now, outside(detail, 500)),
        ).rowcount
        return added == 1

    def unsuppress(self, address: str) -> bool:
        removed = self.db.execute(
            "DELETE FROM suppressions WHERE address = ?", (address.lower(),)
        ).rowcount
        return removed == 1

    def among(self, addresses: Collection[str]) -> set[str]:
        out: set[str] = set()
        for part in parts(list(addresses)):
            rows = self.db.execute(
                f"SELECT address FROM suppressions WHERE address IN ({marks(part)})", part
            )
            out.update(address for (address,) in rows)
        return out

    def by_reason(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT reason, count(*) FROM suppressions GROUP BY reason"))

    def register(self, tokens: Iterable[tuple[str, str]]) -> None:
        self.db.executemany("INSERT OR IGNORE INTO tokens (token, address) VALUES (?, ?)", tokens)

    def address_of(self, token: str) -> str | None:
        row = self.db.execute("SELECT address FROM tokens WHERE token = ?", (token,)).fetchone()
        return None if row is None else str(row[0])

    def listed(self) -> list[Suppression]:
        rows = self.db.execute(
            "SELECT address, reason, since, detail FROM suppressions ORDER BY since, address"
        )
        return [Suppression(*row) for row in rows]

"""The suppression list: who receives nothing, since when, and why."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from advisory.domain.text import outside
from advisory.state.base import Reason, Suppression
from advisory.state.sql.db import Db, guarded, marks, parts

__all__ = ["SqlSuppressions"]


@guarded
class SqlSuppressions:
    def __init__(self, db: Db) -> None:
        self.db = db

    def suppress(self, address: str, reason: Reason, now: float, detail: str = "") -> bool:
        added = self.db.run(  # one statement: durable at once, outside any run
            "INSERT INTO suppressions (address, reason, since, detail) "
            "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (address.lower(), reason, now, outside(detail, 500)),
        ).rowcount
        return added == 1

    def unsuppress(self, address: str) -> bool:
        # Whoever had nothing due may have something now: no plan is taken as quiet.
        self.db.run("DELETE FROM quiet")
        removed = self.db.run(
            "DELETE FROM suppressions WHERE address = ?", (address.lower(),)
        ).rowcount
        return removed == 1

    def among(self, addresses: Collection[str]) -> set[str]:
        out: set[str] = set()
        for part in parts(list(addresses)):
            rows = self.db.run(
                f"SELECT address FROM suppressions WHERE address IN ({marks(part)})", part
            )
            out.update(address for (address,) in rows)
        return out

    def by_reason(self) -> dict[str, int]:
        return dict(self.db.run("SELECT reason, count(*) FROM suppressions GROUP BY reason"))

    def register(self, tokens: Iterable[tuple[str, str]]) -> None:
        self.db.many(
            "INSERT INTO tokens (token, address) VALUES (?, ?) ON CONFLICT DO NOTHING",
            sorted(tokens),  # in one order, as every writer takes them
        )

    def address_of(self, token: str) -> str | None:
        row = self.db.run("SELECT address FROM tokens WHERE token = ?", (token,)).fetchone()
        return None if row is None else str(row[0])

    def listed(self) -> list[Suppression]:
        rows = self.db.run(
            "SELECT address, reason, since, detail FROM suppressions ORDER BY since, address"
        )
        return [Suppression(*row) for row in rows]

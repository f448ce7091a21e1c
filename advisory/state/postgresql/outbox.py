"""The outbox on PostgreSQL: what every engine's outbox does, and the claims by which
several processes share its queued messages, each sent only by the one that holds it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from advisory.state.postgresql.db import PgDb
from advisory.state.sql.db import guarded
from advisory.state.sql.outbox import SqlOutbox

__all__ = ["PgOutbox"]

_NOW: Final = "extract(epoch FROM clock_timestamp())"


@guarded
class PgOutbox(SqlOutbox):
    def __init__(self, db: PgDb, worker: str) -> None:
        super().__init__(db)
        self.worker = worker

    def claim(self, keys: Sequence[str], lease: float) -> list[str]:
        # By the server's clock, the one all processes share. Rows another process is
        # claiming this instant are skipped, not waited for.
        rows = self.db.run(
            f"""UPDATE messages SET claimed_by = ?, claimed_until = {_NOW} + ?
                WHERE key IN (SELECT key FROM messages WHERE key = ANY(?) AND status = 'queued'
                              AND (claimed_until IS NULL OR claimed_until < {_NOW}
                                   OR claimed_by = ?)
                              FOR UPDATE SKIP LOCKED)
                RETURNING key""",
            (self.worker, lease, list(keys), self.worker),
        )
        return [key for (key,) in rows]

    def renew(self, lease: float) -> None:
        self.db.run(
            f"UPDATE messages SET claimed_until = {_NOW} + ? "
            "WHERE claimed_by = ? AND status = 'queued'",
            (lease, self.worker),
        )

    def unclaim(self) -> None:
        self.db.run(
            "UPDATE messages SET claimed_by = NULL, claimed_until = NULL "
            "WHERE claimed_by = ? AND status = 'queued'",
            (self.worker,),
        )

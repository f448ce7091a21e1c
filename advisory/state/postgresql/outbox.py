"""The outbox on PostgreSQL: what every engine's outbox does, and the claims by which
several processes share its queued messages, each sent only by the one that holds it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from advisory.errors import StateContended
from advisory.state.base import Attempt
from advisory.state.postgresql.db import PgDb
from advisory.state.sql.db import guarded
from advisory.state.sql.outbox import SqlOutbox

__all__ = ["PgOutbox"]

_NOW: Final = "extract(epoch FROM clock_timestamp())"
_TRIES: Final = 3  # writes of outcomes that met another process's, before giving up


@guarded
class PgOutbox(SqlOutbox):
    def __init__(self, db: PgDb, worker: str) -> None:
        super().__init__(db)
        self.worker = worker

    def claim(self, keys: Sequence[str], lease: float) -> list[str]:
        # By the server's clock, the one all processes share. Rows another process is
        # claiming this instant are skipped, not waited for. The rows are found by their
        # keys alone (`IS TRUE` is no index's: a scan of the queued would read them all).
        rows = self.db.run(
            f"""UPDATE messages SET claimed_by = ?, claimed_until = {_NOW} + ?
                WHERE key IN (SELECT key FROM messages WHERE key = ANY(?)
                              AND (status = 'queued' AND (claimed_until IS NULL
                                   OR claimed_until < {_NOW} OR claimed_by = ?)) IS TRUE
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

    def record_many(self, attempts: Sequence[Attempt]) -> None:
        """As every engine does; a transaction that met another process's writes (a
        deadlock the server broke) is tried again: what the mail server accepted must be
        recorded, or it goes again."""
        for tried in range(1, _TRIES + 1):
            try:
                super().record_many(attempts)
                return
            except StateContended:
                if tried == _TRIES:
                    raise

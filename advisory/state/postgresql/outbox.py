"""The outbox on PostgreSQL: what every engine's outbox does, and the claims by which
several processes share its queued messages, each sent only by the one that holds it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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
        # claiming this instant are skipped, not waited for. The rows are found by their
        # keys alone (`IS TRUE` is no index's: a scan of the queued would read them all).
        with self._unsynced():
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
        with self._unsynced():
            self.db.run(
                f"UPDATE messages SET claimed_until = {_NOW} + ? "
                "WHERE claimed_by = ? AND status = 'queued'",
                (lease, self.worker),
            )

    def unclaim(self) -> None:
        with self._unsynced():
            self.db.run(
                "UPDATE messages SET claimed_by = NULL, claimed_until = NULL "
                "WHERE claimed_by = ? AND status = 'queued'",
                (self.worker,),
            )

    @contextmanager
    def _unsynced(self) -> Iterator[None]:
        """A claim need not wait for the server's disk: one lost in its crash is a claim
        no process holds, which is what the lease makes of a claim of a process that
        died. (What was sent is recorded durably, by `record_many`.)"""
        with self.db.transaction():
            self.db.run("SET LOCAL synchronous_commit TO OFF")
            yield

"""The outbox: messages, their attempts, and the advisory versions told of."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from typing import Final

from advisory.domain.models import Advisory
from advisory.domain.text import outside
from advisory.state.base import Attempt, Entry, Kind, Quiet, Status
from advisory.state.sql.db import Db, advisory_from, guarded, marks, parts

__all__ = ["SqlOutbox"]

_COLUMNS: Final = ", ".join(Entry.__slots__)


@guarded
class SqlOutbox:
    def __init__(self, db: Db) -> None:
        self.db = db

    def entries(self, *, status: Status, kinds: Collection[Kind] = ()) -> list[Entry]:
        only = f" AND kind IN ({marks(list(kinds))})" if kinds else ""
        rows = self.db.run(
            f"SELECT {_COLUMNS} FROM messages WHERE status = ?{only} ORDER BY rowid",
            (status, *kinds),
        )
        return [Entry(*row) for row in rows]

    def entries_for(self, keys: Sequence[str]) -> dict[str, Entry]:
        out: dict[str, Entry] = {}
        for part in parts(keys):
            rows = self.db.run(
                f"SELECT {_COLUMNS} FROM messages WHERE key IN ({marks(part)})", part
            )
            out.update((row[0], Entry(*row)) for row in rows)
        return out

    def last_sent_to(
        self, recipients: Iterable[str], keys: Iterable[str]
    ) -> dict[tuple[str, str], tuple[str, str]]:
        wanted = set(keys)
        out: dict[tuple[str, str], tuple[str, str]] = {}
        for part in parts(list(recipients), times=2):
            rows = self.db.run(
                "SELECT recipient, advisory, version, key FROM ("
                " SELECT recipient, advisory, version, key, row_number() OVER ("
                "  PARTITION BY recipient, advisory ORDER BY seq DESC) AS n FROM ("
                "  SELECT recipient, advisory, version, key, sent_seq AS seq FROM messages"
                "  WHERE sent_seq IS NOT NULL AND kind = 'alert'"
                f"   AND recipient IN ({marks(part)})"
                "  UNION ALL"
                "  SELECT c.recipient, c.advisory, c.version, c.key, m.sent_seq FROM carried c"
                "  JOIN messages m ON m.key = c.key WHERE m.sent_seq IS NOT NULL"
                f"   AND c.recipient IN ({marks(part)})"
                " ) AS delivered) AS numbered WHERE n = 1",
                [*part, *part],
            )
            out.update(((r, a), (v, k)) for r, a, v, k in rows if a in wanted)
        return out

    def advisory(self, version: str) -> Advisory | None:
        row = self.db.run(
            "SELECT body FROM advisory_versions WHERE version = ?", (version,)
        ).fetchone()
        return None if row is None else advisory_from(row[0])

    def minor_since(self, key: str, version: str) -> bool:
        rows = self.db.run(
            "SELECT body FROM advisory_versions WHERE advisory = ? AND rowid > "
            "(SELECT rowid FROM advisory_versions WHERE version = ?)",
            (key, version),
        )
        return all(json.loads(body).get("update") == "minor" for (body,) in rows)

    def counts(self) -> dict[str, int]:
        rows = self.db.run("SELECT status, count(*) FROM messages GROUP BY status")
        return dict(rows)

    def remember(self, advisory: Advisory, now: float) -> None:
        self.db.run(
            "INSERT INTO advisory_versions (version, advisory, body, first_seen) "
            "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (advisory.version, advisory.key, advisory.model_dump_json(), now),
        )

    def enqueue(self, entries: Iterable[Entry]) -> None:
        # An entry queued again (a resend, a newer version, a cancelled one due again)
        # counts one more resend than the outbox had when it was planned: where several
        # processes plan the same run, the second to come queues nothing again that the
        # first did. A new one (no resend) is never queued over what is there.
        new: list[Entry] = []
        again: list[Entry] = []
        for e in entries:
            (again if e.resends else new).append(e)
        again.sort(key=lambda e: e.key)  # (a row queued again keeps its place in the order)
        values = ", ".join("?" * len(Entry.__slots__))
        for rows, conflict in (
            (new, "DO NOTHING"),
            (again, """DO UPDATE SET
                status = 'queued', version = excluded.version, next_attempt = excluded.next_attempt,
                resends = excluded.resends, attempts = 0, created_at = excluded.created_at
                WHERE messages.resends < excluded.resends"""),
        ):  # fmt: skip
            if not rows:
                continue
            self.db.many(
                f"INSERT INTO messages ({_COLUMNS}) VALUES ({values}) ON CONFLICT (key) {conflict}",
                [
                (e.key, e.kind, e.recipient, e.advisory, e.version, e.format, "queued",
                 e.created_at, 0, e.next_attempt, None, None, e.resends)
                for e in rows
                ],
            )  # fmt: skip

    def carry(self, key: str, recipient: str, advisories: Iterable[Advisory]) -> None:
        self.db.run("DELETE FROM carried WHERE key = ?", (key,))
        self.db.many(
            "INSERT INTO carried (key, recipient, advisory, version) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (key, advisory) DO UPDATE SET version = excluded.version",
            [(key, recipient, a.key, a.version) for a in advisories],
        )

    def cancel(self, keys: Iterable[str], reason: str) -> None:
        self.db.many(
            "UPDATE messages SET status = 'cancelled', last_error = ?, next_attempt = NULL "
            "WHERE key = ? AND status = 'queued'",
            [(outside(reason), key) for key in sorted(keys)],
        )

    def claim(self, keys: Sequence[str], lease: float) -> list[str]:
        return list(keys)  # one run at a time: every message of it is its own

    def renew(self, lease: float) -> None:
        pass

    def unclaim(self) -> None:
        pass

    def facts(self) -> tuple[str, float | None]:
        row = self.db.run(
            "SELECT (SELECT count(*) FROM messages WHERE status = 'queued'),"
            " (SELECT min(next_attempt) FROM messages WHERE status = 'queued'),"
            " (SELECT max(rowid) FROM messages),"
            " (SELECT count(*) FROM suppressions), (SELECT max(since) FROM suppressions)"
        ).fetchone()
        return json.dumps(list(row)), row[1]

    def written_since(self, last: int | None) -> set[tuple[Kind, str]]:
        rows = self.db.run(
            "SELECT DISTINCT kind, advisory FROM messages WHERE rowid > ?", (last or 0,)
        )
        return {(kind, advisory) for kind, advisory in rows}

    def quiet(self, purpose: str) -> Quiet | None:
        row = self.db.run(
            "SELECT inputs, made_at, until, counts FROM quiet WHERE purpose = ?", (purpose,)
        ).fetchone()
        return None if row is None else Quiet(*row)

    def keep_quiet(self, purpose: str, quiet: Quiet) -> None:
        self.db.run(
            "INSERT INTO quiet (purpose, inputs, made_at, until, counts) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (purpose) DO UPDATE SET inputs = excluded.inputs,"
            " made_at = excluded.made_at, until = excluded.until, counts = excluded.counts",
            (purpose, quiet.inputs, quiet.made_at, quiet.until, quiet.counts),
        )

    def record_many(self, attempts: Sequence[Attempt]) -> None:
        """One transaction, one fsync, for many messages. A delivery is numbered by the
        id of the attempt that made it: the outbox's own order, whatever the clock says."""
        with self.db.transaction():
            first = self.db.ids(len(attempts))
            self.db.many(
                "INSERT INTO attempts (id, key, at, outcome, error) VALUES (?, ?, ?, ?, ?)",
                [(first + n, a.key, a.at, a.outcome, a.note) for n, a in enumerate(attempts)],
            )
            numbered = sorted(enumerate(attempts), key=lambda pair: pair[1].key)
            self.db.many(
                """UPDATE messages SET status = ?, attempts = attempts + 1, next_attempt = ?,
                       last_error = ?, sent_at = coalesce(?, sent_at),
                       sent_seq = coalesce(?, sent_seq)
                   WHERE key = ? AND (status = 'queued' OR ? = 'sent')""",
                [(a.status, a.retry_at, a.note, *((a.at, first + n) if a.outcome == "sent"
                  else (None, None)), a.key, a.outcome) for n, a in numbered],
            )  # fmt: skip

"""Travellers' alerts and their acknowledgements, and what the desk was told."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from advisory.domain.text import outside
from advisory.state.base import Duty, How, Told, Traveller
from advisory.state.sql.db import Db, Rows, guarded

__all__ = ["SqlAcknowledgements"]

# One row per alert (in the order they were told), with its delivery, its acknowledgement,
# and whether it is the last alert of its advisory this traveller was told (a later one
# takes over its asking). Queries select from it by these names.
_ROWS: Final = """(
    SELECT t.key, t.recipient, t.email, t.name, t.advisory, t.version, t.country, t.starts,
           t.ends, t.token, m.status, m.created_at AS queued_at, m.sent_at,
           m.last_error AS error, a.at AS acked_at, a.how, t.summary, t.reminder, t.escalation,
           NOT EXISTS (SELECT 1 FROM told l JOIN messages lm ON lm.key = l.key
                       WHERE l.recipient = t.recipient AND l.advisory = t.advisory
                         AND l.rowid > t.rowid AND lm.status != 'cancelled') AS latest,
           m.format, t.rowid AS seq, a.reported
    FROM told t JOIN messages m ON m.key = t.key
    LEFT JOIN acks a ON a.recipient = t.recipient AND a.version = t.version
)"""
_COLUMNS: Final = (
    "key, recipient, email, name, advisory, version, country, starts, ends, token, status, "
    "queued_at, sent_at, error, acked_at, how, summary, reminder, escalation, latest, format"
)
# Still to be told to the desk; or asking, unacknowledged, and not yet escalated (or
# reminded, once delivered). Cancelled alerts told nobody anything.
_OPEN: Final = """
    status != 'cancelled' AND (summary IS NULL OR (token IS NOT NULL AND acked_at IS NULL
        AND latest AND (escalation IS NULL OR (reminder IS NULL AND status = 'sent'))))
"""


def _traveller(row: tuple[object, ...]) -> Traveller:
    told = Told(*row[:10])  # type: ignore[arg-type]
    values: tuple[Any, ...] = (*row[10:19], bool(row[19]), row[20])
    return Traveller(told, *values)


@guarded
class SqlAcknowledgements:
    def __init__(self, db: Db) -> None:
        self.db = db

    def told(self, rows: Iterable[Told]) -> None:
        # An acknowledgement is of a version: a second alert of one (a second trip) is
        # reminded and escalated only if the first was not. It is told to the desk.
        self.db.many(
            """INSERT INTO told (key, recipient, email, name, advisory, version, country,
                                 starts, ends, token, reminder, escalation)
               SELECT :key, :recipient, :email, :name, :advisory, :version, :country,
                   :start, :end, :token,
                   (SELECT max(o.reminder) FROM told o
                    WHERE o.recipient = :recipient AND o.version = :version AND o.key != :key),
                   (SELECT max(o.escalation) FROM told o
                    WHERE o.recipient = :recipient AND o.version = :version AND o.key != :key)
               WHERE true
               ON CONFLICT (key) DO UPDATE SET
                   email = excluded.email, name = excluded.name, starts = excluded.starts,
                   ends = excluded.ends, token = excluded.token, version = excluded.version,
                   summary = CASE WHEN told.version = excluded.version THEN told.summary END,
                   reminder = CASE WHEN told.version = excluded.version THEN told.reminder
                                   ELSE excluded.reminder END,
                   escalation = CASE WHEN told.version = excluded.version THEN told.escalation
                                     ELSE excluded.escalation END""",
            [{"key": t.key, "recipient": t.recipient, "email": t.email, "name": t.name,
              "advisory": t.advisory, "version": t.version, "country": t.country,
              "start": t.start, "end": t.end, "token": t.token}
             for t in rows],
        )  # fmt: skip

    def asked(self, token: str) -> Traveller | None:
        row = self._select("token = ?", token, order="seq DESC").fetchone()  # the last
        return None if row is None else _traveller(row)

    def acknowledge(self, told: Told, at: float, how: How, detail: str = "") -> bool:
        added = self.db.run(  # one statement: durable at once, outside any run
            "INSERT INTO acks (recipient, version, at, how, detail) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (told.recipient, told.version, at, how, outside(detail, 300)),
        ).rowcount
        return added == 1

    def open(self) -> list[Traveller]:
        return [_traveller(row) for row in self._select(_OPEN)]

    def told_in(self, key: str) -> list[Traveller]:
        rows = self._select("? IN (summary, reminder, escalation)", key)
        return [_traveller(row) for row in rows]

    def unreported(self, version: str | None = None) -> list[Traveller]:
        return self._acks("reported IS NULL AND ? IN (version, '*')", version or "*")

    def reported_in(self, key: str) -> list[Traveller]:
        return self._acks("reported = ?", key)

    def _acks(self, where: str, value: str) -> list[Traveller]:
        """One row per acknowledgement: the last alert of that version to its reader."""
        rows = self._select(
            f"acked_at IS NOT NULL AND {where} AND seq = (SELECT max(o.rowid) FROM told o "
            "WHERE o.recipient = r.recipient AND o.version = r.version)",
            value,
            order="acked_at, recipient",
        )
        return [_traveller(row) for row in rows]

    def _select(self, where: str, *values: object, order: str = "seq") -> Rows:
        return self.db.run(
            f"SELECT {_COLUMNS} FROM {_ROWS} r WHERE {where} ORDER BY {order}", values
        )

    def mark(
        self, key: str, duty: Duty, told: Iterable[str], acks: Iterable[Traveller] = ()
    ) -> None:
        column = {"summary": "summary", "reminder": "reminder", "escalation": "escalation"}[duty]
        self.db.many(
            f"UPDATE told SET {column} = ? WHERE key = ?", [(key, k) for k in sorted(told)]
        )
        self.db.many(
            "UPDATE acks SET reported = ? WHERE recipient = ? AND version = ? AND reported IS NULL",
            [(key, t.told.recipient, t.told.version) for t in acks],
        )

    def travellers(self, *, country: str | None = None) -> list[Traveller]:
        rows = self._select(
            "token IS NOT NULL AND status != 'cancelled' AND latest "
            "AND country = coalesce(?, country)",
            country, order="starts, recipient",
        )  # fmt: skip
        return [_traveller(row) for row in rows]

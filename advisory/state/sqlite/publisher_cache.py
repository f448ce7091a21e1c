"""The publishers' cache in SQLite: documents' validators, versions seen, current views."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from advisory.domain.models import Advisory
from advisory.domain.text import outside
from advisory.state.base import Document, PublisherState
from advisory.state.sqlite.db import advisory_from, guarded

__all__ = ["SqlitePublisherCache"]


@guarded
class SqlitePublisherCache:
    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.db = db
        self.path = path

    def followed(self) -> list[Advisory]:
        rows = self.db.execute("SELECT body FROM followed ORDER BY advisory")
        return [advisory_from(body) for (body,) in rows]

    def current_prints(self) -> dict[str, tuple[str, int]]:
        rows = self.db.execute("SELECT advisory, fingerprint, level FROM followed")
        return {key: (printed, level) for key, printed, level in rows}

    def follow(self, advisory: Advisory, fingerprint: str, now: float) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO followed VALUES (?, ?, ?, ?, ?)",
            (advisory.key, advisory.model_dump_json(), now, fingerprint, int(advisory.level)),
        )

    def sightings(self, key: str) -> dict[str, float]:
        rows = self.db.execute(
            "SELECT fingerprint, last_seen FROM sightings WHERE advisory = ?", (key,)
        )
        return dict(rows)

    def sighting(self, key: str, fingerprint: str) -> Advisory | None:
        row = self.db.execute(
            "SELECT body FROM sightings WHERE advisory = ? AND fingerprint = ?", (key, fingerprint)
        ).fetchone()
        return advisory_from(row[0]) if row and row[0] else None

    def sighted(
        self, key: str, fingerprint: str, now: float, advisory: Advisory | None = None
    ) -> None:
        self.db.execute(
            "INSERT INTO sightings VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
            "last_seen = excluded.last_seen, body = coalesce(excluded.body, body)",
            (key, fingerprint, now, advisory.model_dump_json() if advisory else None),
        )

    def forget_sightings(self, before: float) -> None:
        self.db.execute("DELETE FROM sightings WHERE last_seen < ?", (before,))

    def document(self, url: str) -> Document:
        row = self.db.execute(
            "SELECT etag, last_modified, memo FROM documents WHERE url = ?", (url,)
        ).fetchone()
        return Document(*row) if row else Document()

    def keep_document(self, url: str, document: Document) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?)",
            (url, document.etag, document.last_modified, document.memo),
        )

    def states(self) -> dict[str, PublisherState]:
        rows = self.db.execute(
            "SELECT kind, last_fetch, last_change, changed, last_error, error_at FROM publishers"
        )
        return {row[0]: PublisherState(*row[1:]) for row in rows}

    def fetched(
        self,
        kind: str,
        now: float,
        *,
        answered: bool,
        changed: Sequence[str],
        errors: Sequence[str],
    ) -> None:
        self.db.execute("INSERT OR IGNORE INTO publishers (kind) VALUES (?)", (kind,))
        if answered:
            self.db.execute("UPDATE publishers SET last_fetch = ? WHERE kind = ?", (now, kind))
        if errors:
            self.db.execute(
                "UPDATE publishers SET last_error = ?, error_at = ? WHERE kind = ?",
                (outside("; ".join(errors), 4000), now, kind),
            )
        if changed:
            self.db.execute(
                "UPDATE publishers SET last_change = ?, changed = ? WHERE kind = ?",
                (now, " ".join(changed), kind),
            )

"""The publishers' cache: documents' validators, versions seen, current views."""

from __future__ import annotations

from collections.abc import Sequence

from advisory.domain.models import Advisory
from advisory.domain.text import outside
from advisory.state.base import Document, PublisherState
from advisory.state.sql.db import Db, advisory_from, guarded

__all__ = ["SqlPublisherCache"]


@guarded
class SqlPublisherCache:
    def __init__(self, db: Db) -> None:
        self.db = db

    def followed(self) -> list[Advisory]:
        rows = self.db.run("SELECT body FROM followed ORDER BY advisory")
        return [advisory_from(body) for (body,) in rows]

    def current_prints(self) -> dict[str, tuple[str, int]]:
        rows = self.db.run("SELECT advisory, fingerprint, level FROM followed")
        return {key: (printed, level) for key, printed, level in rows}

    def follow(self, advisory: Advisory, fingerprint: str, now: float) -> None:
        self.db.run(
            "INSERT INTO followed (advisory, body, since, fingerprint, level) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (advisory) DO UPDATE SET body = excluded.body, "
            "since = excluded.since, fingerprint = excluded.fingerprint, level = excluded.level",
            (advisory.key, advisory.model_dump_json(), now, fingerprint, int(advisory.level)),
        )

    def sightings(self, key: str) -> dict[str, float]:
        rows = self.db.run(
            "SELECT fingerprint, last_seen FROM sightings WHERE advisory = ?", (key,)
        )
        return dict(rows)

    def sighting(self, key: str, fingerprint: str) -> Advisory | None:
        row = self.db.run(
            "SELECT body FROM sightings WHERE advisory = ? AND fingerprint = ?", (key, fingerprint)
        ).fetchone()
        return advisory_from(row[0]) if row and row[0] else None

    def sighted(
        self, key: str, fingerprint: str, now: float, advisory: Advisory | None = None
    ) -> None:
        self.db.run(
            "INSERT INTO sightings (advisory, fingerprint, last_seen, body) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (advisory, fingerprint) DO UPDATE SET last_seen = excluded.last_seen, "
            "body = coalesce(excluded.body, sightings.body)",
            (key, fingerprint, now, advisory.model_dump_json() if advisory else None),
        )

    def forget_sightings(self, before: float) -> None:
        self.db.run("DELETE FROM sightings WHERE last_seen < ?", (before,))

    def document(self, url: str) -> Document:
        row = self.db.run(
            "SELECT etag, last_modified, memo FROM documents WHERE url = ?", (url,)
        ).fetchone()
        return Document(*row) if row else Document()

    def keep_document(self, url: str, document: Document) -> None:
        self.db.run(
            "INSERT INTO documents (url, etag, last_modified, memo) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (url) DO UPDATE SET etag = excluded.etag, "
            "last_modified = excluded.last_modified, memo = excluded.memo",
            (url, document.etag, document.last_modified, document.memo),
        )

    def states(self) -> dict[str, PublisherState]:
        rows = self.db.run(
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
        self.db.run("INSERT INTO publishers (kind) VALUES (?) ON CONFLICT DO NOTHING", (kind,))
        if answered:
            self.db.run("UPDATE publishers SET last_fetch = ? WHERE kind = ?", (now, kind))
        if errors:
            self.db.run(
                "UPDATE publishers SET last_error = ?, error_at = ? WHERE kind = ?",
                (outside("; ".join(errors), 4000), now, kind),
            )
        if changed:
            self.db.run(
                "UPDATE publishers SET last_change = ?, changed = ? WHERE kind = ?",
                (now, " ".join(changed), kind),
            )

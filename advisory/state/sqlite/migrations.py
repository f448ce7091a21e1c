"""The schema, as named steps applied in order and recorded in the `migrations` table.

A state file made before steps were named says how far it got in `user_version` (1:
the outbox, 2: and the publishers' cache); it is upgraded from there. A file that
records a step this code does not know was made by a newer version, and is refused.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from advisory.errors import StateError

__all__ = ["MIGRATIONS", "Migration", "migrate", "pending"]

NAMED: Final = 100  # user_version once steps are recorded by name (older code refuses it)


@dataclass(frozen=True, slots=True)
class Migration:
    name: str
    script: str


MIGRATIONS: Final = (
    Migration("0001-outbox", """
        CREATE TABLE advisory_versions (
            version     TEXT PRIMARY KEY,
            country     TEXT NOT NULL,
            advisory    TEXT NOT NULL,      -- the advisory as JSON, for telling what changed
            first_seen  REAL NOT NULL
        );
        CREATE TABLE messages (
            key          TEXT PRIMARY KEY,  -- hash of (recipient, version or period, format)
            kind         TEXT NOT NULL CHECK (kind IN ('alert', 'digest')),
            recipient    TEXT NOT NULL,     -- lower-cased address: one identity per person
            country      TEXT NOT NULL,
            version      TEXT NOT NULL,
            format       TEXT NOT NULL,
            status       TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'failed', 'cancelled')),
            created_at   REAL NOT NULL,     -- also the message's Date header
            attempts     INTEGER NOT NULL DEFAULT 0,
            next_attempt REAL,
            last_error   TEXT,
            sent_at      REAL,
            resends      INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX messages_due ON messages (status, next_attempt);
        CREATE INDEX messages_recipient ON messages (recipient, country);
        CREATE TABLE attempts (
            id          INTEGER PRIMARY KEY,
            key         TEXT NOT NULL REFERENCES messages (key),
            at          REAL NOT NULL,
            outcome     TEXT NOT NULL CHECK (outcome IN ('sent', 'temporary', 'permanent')),
            error       TEXT
        );
    """),
    Migration("0002-publishers-cache", """
        CREATE TABLE sources (
            kind        TEXT PRIMARY KEY,   -- "us-state", "gov-uk", "canada"
            last_fetch  REAL,               -- the last round in which the publisher answered
            last_change REAL,               -- the last time it told news
            changed     TEXT,               -- which advisories that news was
            last_error  TEXT,
            error_at    REAL
        );
        CREATE TABLE documents (
            url           TEXT PRIMARY KEY, -- validators for a conditional request next time
            etag          TEXT,
            last_modified TEXT,
            memo          TEXT              -- what was read from it, where a 304 still needs it
        );
        CREATE TABLE sightings (
            advisory    TEXT NOT NULL,      -- the advisory's key (VE@us-state)
            fingerprint TEXT NOT NULL,      -- noise.fingerprint of a fetched version
            last_seen   REAL NOT NULL,
            body        TEXT,               -- the version as JSON, for when a 304 makes it current
            PRIMARY KEY (advisory, fingerprint)
        );
        CREATE TABLE followed (
            advisory    TEXT PRIMARY KEY,   -- the advisory's key: its effective (last news) version
            body        TEXT NOT NULL,      -- as JSON
            since       REAL NOT NULL,
            fingerprint TEXT NOT NULL,      -- noise.fingerprint of it
            level       INTEGER NOT NULL
        );
    """),
    # The columns hold an advisory's key (VE, VE@us-state), not a country; the table of
    # publishers is named so.
    Migration("0003-advisory-key-columns", """
        ALTER TABLE messages RENAME COLUMN country TO advisory;
        ALTER TABLE advisory_versions RENAME COLUMN advisory TO body;
        ALTER TABLE advisory_versions RENAME COLUMN country TO advisory;
        ALTER TABLE sources RENAME TO publishers;
    """),
    # What a reader holds is the alert delivered last in the outbox's own order (the id
    # of the attempt that delivered it): a clock set back must not make an older
    # version look like the newer one.
    Migration("0004-delivery-order", """
        ALTER TABLE messages ADD COLUMN sent_seq INTEGER;
        CREATE TEMP TABLE delivery_order (key TEXT PRIMARY KEY, n INTEGER NOT NULL);
        INSERT INTO delivery_order
            SELECT key, max(id) FROM attempts WHERE outcome = 'sent' GROUP BY key;
        UPDATE messages SET sent_seq =
            (SELECT n FROM delivery_order WHERE delivery_order.key = messages.key);
        UPDATE messages SET sent_seq = 0 WHERE sent_at IS NOT NULL AND sent_seq IS NULL;
        DROP TABLE delivery_order;
    """),
    # Fingerprints kept before regions were read say what the text was: marked so, the
    # same advice read again with its regions is not taken for news (publishers/noise.py).
    Migration("0005-fingerprints-before-regions", """
        UPDATE sightings SET fingerprint = 'bare:' || fingerprint;
        UPDATE followed SET fingerprint = 'bare:' || fingerprint;
    """),
    # A digest of news brings its reader the versions it tells: once it is delivered,
    # they hold them as if each had come in an alert of its own.
    Migration("0006-carried-versions", """
        CREATE TABLE carried (
            key         TEXT NOT NULL REFERENCES messages (key),  -- the digest
            recipient   TEXT NOT NULL,
            advisory    TEXT NOT NULL,      -- the advisory's key
            version     TEXT NOT NULL,
            PRIMARY KEY (key, advisory)
        );
        CREATE INDEX carried_recipient ON carried (recipient);
    """),
    # Who receives nothing, whatever the config says: unsubscribed, bounced, complained,
    # or put there by the operator.
    Migration("0007-suppressions", """
        CREATE TABLE suppressions (
            address     TEXT PRIMARY KEY,   -- lower-cased, as the outbox's recipients
            reason      TEXT NOT NULL
                        CHECK (reason IN ('unsubscribed', 'bounced', 'complained', 'operator')),
            since       REAL NOT NULL,
            detail      TEXT NOT NULL DEFAULT ''
        );
    """),
    # Whose each unsubscribe token is: written as messages carrying one are queued, so
    # the web endpoint finds the reader of a link without holding the list.
    Migration("0008-tokens", """
        CREATE TABLE tokens (
            token       TEXT PRIMARY KEY,   -- HMAC of the address: unforgeable, not readable
            address     TEXT NOT NULL
        ) WITHOUT ROWID;
    """),
    # Duty of care. The outbox holds reminders and the desk's messages too (a table
    # rebuilt, as SQLite changes a CHECK; its rows keep their order); `told` is every
    # alert to a traveller on a trip, with its acknowledgement token and the messages
    # that told of it; `acks`, who acknowledged which version, when and how.
    Migration("0009-duty-of-care", """
        CREATE TABLE messages_0009 (
            key          TEXT PRIMARY KEY,
            kind         TEXT NOT NULL
                         CHECK (kind IN ('alert', 'digest', 'reminder', 'summary', 'escalation')),
            recipient    TEXT NOT NULL,
            advisory     TEXT NOT NULL,
            version      TEXT NOT NULL,
            format       TEXT NOT NULL,
            status       TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'failed', 'cancelled')),
            created_at   REAL NOT NULL,
            attempts     INTEGER NOT NULL DEFAULT 0,
            next_attempt REAL,
            last_error   TEXT,
            sent_at      REAL,
            resends      INTEGER NOT NULL DEFAULT 0,
            sent_seq     INTEGER
        );
        INSERT INTO messages_0009 (rowid, key, kind, recipient, advisory, version, format,
                status, created_at, attempts, next_attempt, last_error, sent_at, resends, sent_seq)
            SELECT rowid, key, kind, recipient, advisory, version, format, status, created_at,
                   attempts, next_attempt, last_error, sent_at, resends, sent_seq
            FROM messages ORDER BY rowid;
        DROP TABLE messages;
        ALTER TABLE messages_0009 RENAME TO messages;
        CREATE INDEX messages_due ON messages (status, next_attempt);
        CREATE INDEX messages_recipient ON messages (recipient, advisory);
        CREATE TABLE told (
            key         TEXT PRIMARY KEY REFERENCES messages (key),  -- the alert
            recipient   TEXT NOT NULL,
            email       TEXT NOT NULL,      -- as the list writes it
            name        TEXT NOT NULL,
            advisory    TEXT NOT NULL,
            version     TEXT NOT NULL,
            country     TEXT NOT NULL,
            starts      TEXT NOT NULL,      -- the trip's days
            ends        TEXT NOT NULL,
            token       TEXT,               -- HMAC of (recipient, version), where it asks
            summary     TEXT,               -- the desk's summary that told of it
            reminder    TEXT,               -- the reminder sent ('': none will be)
            escalation  TEXT                -- the desk's escalation that listed it
        );
        CREATE INDEX told_recipient ON told (recipient, advisory);
        CREATE INDEX told_token ON told (token);  -- two trips, one version: one token
        CREATE TABLE acks (
            recipient   TEXT NOT NULL,
            version     TEXT NOT NULL,
            at          REAL NOT NULL,
            how         TEXT NOT NULL CHECK (how IN ('web', 'phone')),
            detail      TEXT NOT NULL DEFAULT '',
            reported    TEXT,               -- the desk message that told of it
            PRIMARY KEY (recipient, version)
        );
    """),
    # A plan that found nothing due keeps the fingerprint of its inputs, with the counts
    # it reported: the next run of the same purpose with the same inputs plans nothing.
    Migration("0010-quiet-plans", """
        CREATE TABLE quiet (
            purpose     TEXT PRIMARY KEY,   -- what the run was for (alerts, retries)
            inputs      TEXT NOT NULL,      -- the fingerprint of what it read
            made_at     REAL NOT NULL,
            until       REAL,               -- when something may fall due regardless
            counts      TEXT NOT NULL       -- as it reported them, JSON
        );
    """),
    # The same checks, each as comparisons: SQLite builds a table for a list of more
    # than two values at every row a statement writes (3 µs a row, four times a message
    # in a fan-out). Rebuilt as 0009 did; rows and attempts keep their order and ids.
    Migration("0011-checks-without-lists", """
        CREATE TABLE messages_0011 (
            key          TEXT PRIMARY KEY,
            kind         TEXT NOT NULL CHECK (kind = 'alert' OR kind = 'digest'
                            OR kind = 'reminder' OR kind = 'summary' OR kind = 'escalation'),
            recipient    TEXT NOT NULL,
            advisory     TEXT NOT NULL,
            version      TEXT NOT NULL,
            format       TEXT NOT NULL,
            status       TEXT NOT NULL CHECK (status = 'queued' OR status = 'sent'
                            OR status = 'failed' OR status = 'cancelled'),
            created_at   REAL NOT NULL,
            attempts     INTEGER NOT NULL DEFAULT 0,
            next_attempt REAL,
            last_error   TEXT,
            sent_at      REAL,
            resends      INTEGER NOT NULL DEFAULT 0,
            sent_seq     INTEGER
        );
        INSERT INTO messages_0011 (rowid, key, kind, recipient, advisory, version, format,
                status, created_at, attempts, next_attempt, last_error, sent_at, resends, sent_seq)
            SELECT rowid, key, kind, recipient, advisory, version, format, status, created_at,
                   attempts, next_attempt, last_error, sent_at, resends, sent_seq
            FROM messages ORDER BY rowid;
        DROP TABLE messages;
        ALTER TABLE messages_0011 RENAME TO messages;
        CREATE INDEX messages_due ON messages (status, next_attempt);
        CREATE INDEX messages_recipient ON messages (recipient, advisory);
        CREATE TABLE attempts_0011 (
            id          INTEGER PRIMARY KEY,
            key         TEXT NOT NULL REFERENCES messages (key),
            at          REAL NOT NULL,
            outcome     TEXT NOT NULL
                        CHECK (outcome = 'sent' OR outcome = 'temporary' OR outcome = 'permanent'),
            error       TEXT
        );
        INSERT INTO attempts_0011 (id, key, at, outcome, error)
            SELECT id, key, at, outcome, error FROM attempts ORDER BY id;
        DROP TABLE attempts;
        ALTER TABLE attempts_0011 RENAME TO attempts;
    """),
)  # fmt: skip
_LEGACY: Final = {1: 1, 2: 2}  # user_version before steps were named -> steps it had

EMPTIED: Final = (
    "{path}: the state file is {what}, where runs have been: starting afresh would send "
    "everything again; restore it from a backup, or start a new state on purpose with "
    "`advisory state init`"
)


def _applied(db: sqlite3.Connection, path: Path, *, used: bool) -> list[str]:
    """The steps the file has, by name; StateError for a file that is not a state."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if version == NAMED:
        names = [name for (name,) in db.execute("SELECT name FROM migrations ORDER BY rowid")]
        known = {m.name for m in MIGRATIONS}
        if newer := [n for n in names if n not in known]:
            raise StateError(
                f"{path}: made by a newer version of advisory (step {newer[0]}); upgrade it"
            )
        return names
    if version in _LEGACY:
        return [m.name for m in MIGRATIONS[: _LEGACY[version]]]
    if version == 0 and not tables:
        if used:
            raise StateError(EMPTIED.format(path=path, what="without any state in it"))
        return []
    shown = version if version > 0 else 0
    raise StateError(f"{path}: not an advisory state file (schema {shown})")


def pending(db: sqlite3.Connection, path: Path, *, used: bool) -> list[Migration]:
    """The steps still to apply, in order."""
    applied = set(_applied(db, path, used=used))
    return [m for m in MIGRATIONS if m.name not in applied]


def migrate(db: sqlite3.Connection, path: Path, *, used: bool) -> None:
    """Apply what is pending in one transaction, each step recorded by name."""
    applied = _applied(db, path, used=used)
    steps = [m for m in MIGRATIONS if m.name not in applied]
    if not steps:
        return
    now = time.time()
    record = "".join(
        f"INSERT OR IGNORE INTO migrations VALUES ('{name}', {now});"
        for name in (*applied, *(m.name for m in steps))
    )
    db.executescript(
        "BEGIN IMMEDIATE;"
        "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL);"
        + "".join(m.script for m in steps)
        + record
        + f"PRAGMA user_version = {NAMED}; COMMIT;"
    )

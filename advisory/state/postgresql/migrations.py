"""The schema on PostgreSQL, as named steps applied in order and recorded in the
`migrations` table; the first holds what SQLite's steps up to 0009 built, and the
leases by which several processes share the outbox.

Steps are applied by one process at a time (a transaction's advisory lock), so
several starting at once on a new database make it once. A database holding tables
but no record of our steps is another program's, and is refused.
"""

from __future__ import annotations

import time
from typing import Any, Final

import psycopg

from advisory.domain.urls import Database
from advisory.errors import StateError
from advisory.state.sqlite.migrations import Migration

__all__ = ["MIGRATIONS", "migrate", "pending"]

MIGRATING: Final = 0x61647600  # the advisory lock held while steps are applied

MIGRATIONS: Final = (
    Migration("0001-state", """
        CREATE TABLE advisory_versions (
            seq         bigserial,          -- the order versions were seen in
            version     text PRIMARY KEY,
            advisory    text NOT NULL,      -- the advisory's key (VE, VE@us-state)
            body        text NOT NULL,      -- the advisory as JSON
            first_seen  double precision NOT NULL
        );
        CREATE TABLE messages (
            seq          bigserial,         -- the order messages were queued in
            key          text PRIMARY KEY,  -- hash of (recipient, version or period, format)
            kind         text NOT NULL
                         CHECK (kind IN ('alert', 'digest', 'reminder', 'summary', 'escalation')),
            recipient    text NOT NULL,     -- lower-cased address: one identity per person
            advisory     text NOT NULL,
            version      text NOT NULL,
            format       text NOT NULL,
            status       text NOT NULL CHECK (status IN ('queued', 'sent', 'failed', 'cancelled')),
            created_at   double precision NOT NULL,  -- also the message's Date header
            attempts     integer NOT NULL DEFAULT 0,
            next_attempt double precision,
            last_error   text,
            sent_at      double precision,
            resends      integer NOT NULL DEFAULT 0,
            sent_seq     bigint,            -- the id of the attempt that delivered it
            claimed_by   text,              -- the process that holds it to send it ...
            claimed_until double precision  -- ... until then, unless it says it still does
        );
        CREATE INDEX messages_due ON messages (status, next_attempt);
        CREATE INDEX messages_recipient ON messages (recipient, advisory);
        CREATE INDEX messages_claimed ON messages (claimed_by) WHERE status = 'queued';
        CREATE TABLE attempts (
            id          bigint PRIMARY KEY,
            key         text NOT NULL REFERENCES messages (key),
            at          double precision NOT NULL,
            outcome     text NOT NULL CHECK (outcome IN ('sent', 'temporary', 'permanent')),
            error       text
        );
        CREATE TABLE carried (
            key         text NOT NULL REFERENCES messages (key),  -- the digest
            recipient   text NOT NULL,
            advisory    text NOT NULL,
            version     text NOT NULL,
            PRIMARY KEY (key, advisory)
        );
        CREATE INDEX carried_recipient ON carried (recipient);
        CREATE TABLE publishers (
            kind        text PRIMARY KEY,
            last_fetch  double precision,
            last_change double precision,
            changed     text,
            last_error  text,
            error_at    double precision
        );
        CREATE TABLE documents (
            url           text PRIMARY KEY,
            etag          text,
            last_modified text,
            memo          text
        );
        CREATE TABLE sightings (
            advisory    text NOT NULL,
            fingerprint text NOT NULL,
            last_seen   double precision NOT NULL,
            body        text,
            PRIMARY KEY (advisory, fingerprint)
        );
        CREATE TABLE followed (
            advisory    text PRIMARY KEY,
            body        text NOT NULL,
            since       double precision NOT NULL,
            fingerprint text NOT NULL,
            level       integer NOT NULL
        );
        CREATE TABLE suppressions (
            address     text PRIMARY KEY,
            reason      text NOT NULL
                        CHECK (reason IN ('unsubscribed', 'bounced', 'complained', 'operator')),
            since       double precision NOT NULL,
            detail      text NOT NULL DEFAULT ''
        );
        CREATE TABLE tokens (
            token       text PRIMARY KEY,
            address     text NOT NULL
        );
        CREATE TABLE told (
            seq         bigserial,          -- the order alerts were told in
            key         text PRIMARY KEY REFERENCES messages (key),
            recipient   text NOT NULL,
            email       text NOT NULL,
            name        text NOT NULL,
            advisory    text NOT NULL,
            version     text NOT NULL,
            country     text NOT NULL,
            starts      text NOT NULL,
            ends        text NOT NULL,
            token       text,
            summary     text,
            reminder    text,
            escalation  text
        );
        CREATE INDEX told_recipient ON told (recipient, advisory);
        CREATE INDEX told_token ON told (token);
        CREATE TABLE acks (
            recipient   text NOT NULL,
            version     text NOT NULL,
            at          double precision NOT NULL,
            how         text NOT NULL CHECK (how IN ('web', 'phone')),
            detail      text NOT NULL DEFAULT '',
            reported    text,
            PRIMARY KEY (recipient, version)
        );
    """),
    Migration("0002-quiet-plans", """
        CREATE TABLE quiet (
            purpose     text PRIMARY KEY,
            inputs      text NOT NULL,
            made_at     double precision NOT NULL,
            until       double precision,
            counts      text NOT NULL
        );
    """),
)  # fmt: skip


def _applied(connection: psycopg.Connection[Any], database: Database) -> list[str]:
    """The steps the database has, by name; StateError for a database not ours."""
    listed = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
    tables = [row[0] for row in connection.execute(listed)]
    if "migrations" not in tables:
        if tables:
            shown = ", ".join(tables[:3]) + (", …" if len(tables) > 3 else "")
            raise StateError(
                f"service.state ({database.url}): holds tables of another program ({shown}); "
                "give advisory a database of its own"
            )
        return []
    names = [r[0] for r in connection.execute("SELECT name FROM migrations ORDER BY applied_at")]
    known = {m.name for m in MIGRATIONS}
    if newer := [n for n in names if n not in known]:
        raise StateError(
            f"service.state ({database.url}): made by a newer version of advisory "
            f"(step {newer[0]}); upgrade it"
        )
    return names


def pending(connection: psycopg.Connection[Any], database: Database) -> list[Migration]:
    applied = set(_applied(connection, database))
    return [m for m in MIGRATIONS if m.name not in applied]


def migrate(
    connection: psycopg.Connection[Any], database: Database, *, reader: bool = False
) -> None:
    """Apply what is pending in the transaction open on `connection`, one process at a
    time. A `reader` (which keeps its transaction open while it reads, and never commits
    it) takes no lock, and makes what is missing as tables of its session alone."""
    if not reader:
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATING,))
    steps = pending(connection, database)
    if not steps:
        return
    table = "CREATE TEMP TABLE" if reader else "CREATE TABLE"
    connection.execute(
        f"{table} IF NOT EXISTS migrations "
        "(name text PRIMARY KEY, applied_at double precision NOT NULL)"
    )
    now = time.time()
    for n, step in enumerate(steps):
        connection.execute(step.script.replace("CREATE TABLE", table).encode())
        connection.execute("INSERT INTO migrations VALUES (%s, %s)", (step.name, now + n * 1e-6))

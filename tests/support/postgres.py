"""A fresh PostgreSQL database for each test, on the server the Makefile made sure runs,
reached over its socket as this user ($ADVISORY_TEST_POSTGRESQL names another server:
its user must be allowed to create databases)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import psycopg

from advisory.domain.urls import Database

SERVER = os.environ.get("ADVISORY_TEST_POSTGRESQL", "postgresql:///postgres")


def url_of(name: str, server: str = SERVER) -> str:
    """The URL of database `name` on the test server."""
    parts = urlsplit(server)  # (urlunsplit would drop the empty host of a socket's URL)
    return f"{parts.scheme}://{parts.netloc}/{name}" + (f"?{parts.query}" if parts.query else "")


@contextmanager
def fresh_database(server: str = SERVER) -> Iterator[Database]:
    """A new, empty database, dropped afterwards (whoever is still connected to it)."""
    name = f"advisory_{secrets.token_hex(6)}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield Database(url_of(name, server))
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

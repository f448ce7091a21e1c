"""A fresh PostgreSQL database for each test, on the server the Makefile made sure runs,
reached over its socket as this user ($ADVISORY_TEST_POSTGRESQL names another server:
its user must be allowed to create databases)."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
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


class PrivateServer:
    """A PostgreSQL server of the test's own, that it may stop and start: Debian's
    binaries, a new cluster in a folder of its own, logins by password over TCP (as root,
    it runs as `postgres`: the server refuses to run as root)."""

    USER = "advisory"
    PASSWORD = "Right-pa55word"  # the test server's, nothing else's

    def __init__(self) -> None:
        versions = sorted(Path("/usr/lib/postgresql").iterdir(), key=lambda p: int(p.name))
        self.bin = versions[-1] / "bin"
        self.folder = Path(tempfile.mkdtemp(prefix="advisory-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self.as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_owner:
            shutil.chown(self.folder, "postgres")
        secret = self.folder / "password"
        secret.write_text(self.PASSWORD)
        if self.as_owner:
            shutil.chown(secret, "postgres")
        self._pg("initdb", "-D", str(self.data), "-U", self.USER, "--auth-local=trust",
                 "--auth-host=scram-sha-256", f"--pwfile={secret}", "-E", "UTF8")  # fmt: skip
        self.start()

    def _pg(self, tool: str, *args: str) -> None:
        subprocess.run([*self.as_owner, str(self.bin / tool), *args], check=True,
                       capture_output=True, timeout=60)  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                 str(self.folder / "log"), "-w", "start")  # fmt: skip

    def stop(self) -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, database: str = "postgres", user: str = USER) -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])

"""Which addresses keep traffic private (https, or plain http to this machine only), and
the address of a state kept in PostgreSQL."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

__all__ = ["Database", "database_url", "loopback", "secure"]


def loopback(host: str) -> bool:
    """`localhost` or a loopback address: traffic that never leaves the machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def secure(url: str) -> bool:
    """https, or http to a loopback host (a local mirror): no plain text over a network."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and loopback(host))


@dataclass(frozen=True, slots=True)
class Database:
    """A state kept in PostgreSQL: its URL (never holding a password) and the password,
    read from the environment, which nothing prints."""

    url: str
    password: str | None = field(default=None, repr=False, compare=False)

    def __str__(self) -> str:
        return self.url


def database_url(value: str) -> str:
    """A `postgresql://user@host:port/db` URL, checked; ValueError says what is wrong."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 -- raises on a port that is not a number
    except ValueError:
        raise ValueError("not a valid PostgreSQL URL") from None
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError("expected a postgresql:// URL")
    asks = any(name.strip().lower() == "password" for name, _ in parse_qsl(parts.query))
    if parts.password is not None or asks:
        raise ValueError(
            "holds a password, which must not sit in a file: name the variable that holds "
            "it in service.state_password_env"
        )
    if parts.fragment:
        raise ValueError("a PostgreSQL URL has no #fragment")
    return value

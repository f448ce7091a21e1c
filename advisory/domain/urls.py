"""Which addresses keep traffic private: https, or plain http to this machine only."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

__all__ = ["loopback", "secure"]


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

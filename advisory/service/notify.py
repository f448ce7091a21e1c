"""systemd's readiness protocol (sd_notify): `READY=1` once `serve` is answering and
scheduled, `STOPPING=1` when it begins to stop, as datagrams to `$NOTIFY_SOCKET`.

Without the variable (not under systemd, or `Type=simple`) nothing is sent; a socket
that cannot be reached is not a reason to stop serving.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

__all__ = ["notify"]


def notify(state: str, env: Mapping[str, str] | None = None) -> bool:
    """Tell systemd `state` ("READY=1", "STOPPING=1", "STATUS=…"); whether it was sent."""
    where = (os.environ if env is None else env).get("NOTIFY_SOCKET", "")
    if not where or where[0] not in "/@":
        return False
    address = "\0" + where[1:] if where[0] == "@" else where  # @: the abstract namespace
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.connect(address)
            s.sendall(state.encode())
    except OSError:
        return False
    return True

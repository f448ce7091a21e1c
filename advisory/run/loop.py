"""The event loop every command runs in: uvloop's (libuv) where it is installed, else
asyncio's own. uvloop's sockets, callbacks and timers are C: at fan-out it spends a
fifth less CPU per message than asyncio's loop (`bench/fanout.py`)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run"]

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run`, on uvloop's loop where there is one."""
    try:
        import uvloop
    except ImportError:  # (a platform it does not build on)
        return asyncio.run(main)
    return uvloop.run(main)

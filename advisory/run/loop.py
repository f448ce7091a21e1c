"""The event loop every command runs in: uvloop's (libuv) where it is installed, else
asyncio's own. uvloop's sockets, callbacks and timers are C: at fan-out it spends a
fifth less CPU per message than asyncio's loop (`bench/fanout.py`). What the command
made before it (modules, config, templates) is frozen out of the garbage collector's
walks: it lives to the end anyway, and a long send would walk it at every full pass."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run"]

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run`, on uvloop's loop where there is one."""
    gc.freeze()
    try:
        import uvloop
    except ImportError:  # (a platform it does not build on)
        return asyncio.run(main)
    return uvloop.run(main)

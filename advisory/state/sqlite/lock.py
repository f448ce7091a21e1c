"""The `.lock` file beside a state file: one run at a time (flock)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from advisory.errors import StateBusy
from advisory.state.sqlite.db import PRIVATE

__all__ = ["RunLock"]


class RunLock:
    """One run at a time per state file. That the lock file exists also tells that a
    run has used the state: a state file missing beside it was lost, not never made."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.path = state.with_name(f"{state.name}.lock")
        self._file: IO[str] | None = None

    def acquire(self, *, wait: bool = False) -> None:
        if self._file is None:
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
            self._file = os.fdopen(os.open(self.path, flags, PRIVATE), "a")
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise StateBusy(f"{self.state}: another run is in progress") from None

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

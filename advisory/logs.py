"""One line per event on stderr, as text for people or JSON for machines.

Only counts, durations, addresses and error reasons: never a password, never a body.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Literal, TextIO

from advisory.domain.text import outside

__all__ = ["Log", "LogFormat"]

LogFormat = Literal["text", "json"]


class Log:
    def __init__(self, fmt: LogFormat = "text", stream: TextIO | None = None) -> None:
        self.fmt = fmt
        self.stream = stream or sys.stderr

    def __call__(self, event: str, message: str, **fields: object) -> None:
        """One line; what came from outside (a reply, a feed) is made printable first."""
        now = datetime.now(UTC)
        message = outside(message, 4000)
        fields = {k: outside(v, 4000) if isinstance(v, str) else v for k, v in fields.items()}
        if self.fmt == "json":
            line = json.dumps(
                {"time": now.isoformat(timespec="seconds"), "event": event, "message": message,
                 **fields},
                ensure_ascii=False,
                default=str,
            )  # fmt: skip
        else:
            line = f"{now:%Y-%m-%d %H:%M:%S}Z {event}: {message}"
        print(line, file=self.stream, flush=True)

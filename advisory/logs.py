"""Log lines on stderr through stdlib `logging`, as text for people or JSON for machines.

Our own events and the libraries' warnings (APScheduler, httpx, aiosmtplib) go to the
same stream in the same format. Only counts, durations, addresses and error reasons:
never a password, never a body; what came from outside is made printable first.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Final, Literal, TextIO

from advisory.domain.text import outside

__all__ = ["LIBRARIES", "Log", "LogFormat", "setup"]

LogFormat = Literal["text", "json"]
LIBRARIES: Final = ("apscheduler", "httpx", "aiosmtplib")
# Libraries whose complaints are about data from outside, and are told by us instead:
# aiohttp of each malformed request (the client had its 400), flufl.bounce of a report
# its detectors choke on (we say once that the report is unreadable), psycopg of a
# pipeline it could not end when the server went (the state's one line says so). Never
# a traceback.
QUIET: Final = ("aiohttp", "flufl", "psycopg")
# Events that tell of trouble: a failed run, a failed delivery, a publisher's error.
_LEVELS: Final = {"error": logging.ERROR, "delivery": logging.WARNING, "source": logging.WARNING,
                  "waiting": logging.WARNING}  # fmt: skip


class _Text(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        at = datetime.fromtimestamp(record.created, UTC)
        event = getattr(record, "event", None) or f"{record.name} {record.levelname.lower()}"
        return f"{at:%Y-%m-%d %H:%M:%S}Z {event}: {outside(record.getMessage(), 4000)}"


class _Json(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        at = datetime.fromtimestamp(record.created, UTC)
        fields = getattr(record, "fields", {})
        line = {
            "time": at.isoformat(timespec="seconds"),
            "level": record.levelname.lower(),
            "event": getattr(record, "event", None) or record.name,
            "message": outside(record.getMessage(), 4000),
            **{k: outside(v, 4000) if isinstance(v, str) else v for k, v in fields.items()},
        }
        return json.dumps(line, ensure_ascii=False, default=str)


def _news(record: logging.LogRecord) -> bool:
    """APScheduler's word that a run was skipped while one ran: the jobs take turns by
    design (one instance, late runs coalesced), so it tells nothing."""
    return "maximum number of running instances reached" not in record.getMessage()


def setup(fmt: LogFormat = "text", stream: TextIO | None = None) -> None:
    """One handler on stderr for our logger and the libraries': ours from INFO, theirs
    from WARNING (a request log per fetch is not news)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_Json() if fmt == "json" else _Text())
    handler.addFilter(_news)
    for name in ("advisory", *LIBRARIES, *QUIET):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.propagate = False
        level = logging.INFO if name == "advisory" else logging.WARNING
        logger.setLevel(logging.CRITICAL + 1 if name in QUIET else level)


class Log:
    """`log(event, message, **fields)`: one line of ours, its level by its event."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or logging.getLogger("advisory")

    def __call__(self, event: str, message: str, **fields: object) -> None:
        level = _LEVELS.get(event, logging.INFO)
        self.logger.log(level, "%s", message, extra={"event": event, "fields": fields})

"""What the bounce reports mean: each matched to the message it reports (by its VERP
token, else by the Message-ID it quotes), a hard bounce naming that reader or a
complaint suppresses them, and the report goes to `cur/`. A report for nobody we wrote
to changes nothing; an unreadable one stays where it is and is told once.

With VERP, only the token counts: a Message-ID can be computed by anyone who knows an
address and the advisory, a token only with the key. Reading the files (which a
hostile one can make slow) is done off the event loop, by `read_waiting`.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Final

from advisory.domain.models import TOKEN_FIELD
from advisory.inputs.bounces import Report, Unreadable, handled, read_reports
from advisory.state import Store
from advisory.state.base import Reason

__all__ = ["read_bounces", "read_waiting"]

_TOLD: Final[set[Path]] = set()  # unreadable reports already told, in this process


async def read_waiting(folder: Path) -> list[Report | Unreadable]:
    """The reports waiting, parsed in a thread: the service answers meanwhile."""
    return await asyncio.to_thread(lambda: list(read_reports(folder, skip=set(_TOLD))))


def read_bounces(
    reports: Iterable[Report | Unreadable],
    store: Store,
    bounce_address: str | None,
    *,
    clock: Callable[[], float] = time.time,
) -> tuple[int, list[str]]:
    """Act on the reports read: (readers suppressed, lines to tell)."""
    verp = _verp(bounce_address)
    suppressed, lines = 0, []
    for report in reports:
        if isinstance(report, Unreadable):
            if report.path not in _TOLD:
                _TOLD.add(report.path)
                lines.append(f"{report.path}: unreadable bounce report ({report.why}): left there")
            continue
        reader = _reader(report, store, verp)
        if reader is not None and _suppresses(report, reader):
            reason: Reason = "complained" if report.kind == "complaint" else "bounced"
            suppressed += store.suppressions.suppress(reader, reason, clock(), report.status)
        try:
            handled(report)
        except OSError as e:
            if report.path not in _TOLD:
                _TOLD.add(report.path)
                lines.append(f"{report.path}: cannot move the report to cur/: {e.strerror}")
    return suppressed, lines


def _verp(bounce_address: str | None) -> re.Pattern[str] | None:
    if not bounce_address or TOKEN_FIELD not in bounce_address:
        return None
    before, _, after = bounce_address.partition(TOKEN_FIELD)
    return re.compile(re.escape(before) + r"([A-Za-z0-9_-]{22})" + re.escape(after), re.I)


def _reader(report: Report, store: Store, verp: re.Pattern[str] | None) -> str | None:
    """Whose message the report is about, if it is about one of ours."""
    if verp is not None:
        for address in report.addressed:
            found = verp.fullmatch(address)
            reader = store.suppressions.address_of(found.group(1)) if found else None
            if reader is not None:
                return reader
        return None  # with VERP, a report without our token is not about our mail
    entries = store.outbox.entries_for(list(report.quoted))
    return next((entry.recipient for entry in entries.values()), None)


def _suppresses(report: Report, reader: str) -> bool:
    """A complaint suppresses its reader; a bounce, if it names them as failing for good."""
    if report.kind == "complaint":
        return not report.failed or reader in report.failed
    return report.kind == "bounce" and reader in report.failed

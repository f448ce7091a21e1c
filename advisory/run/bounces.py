"""What the bounce reports mean: each matched to the message it reports (by its VERP
token, else by the Message-ID it quotes), a hard bounce or a complaint suppresses that
reader, and the report goes to `cur/`. A report for nobody we wrote to changes nothing;
an unreadable one stays where it is and is told once."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from advisory.domain.models import TOKEN_FIELD
from advisory.inputs.bounces import Report, Unreadable, handled, read_reports
from advisory.state import Store
from advisory.state.base import Reason

__all__ = ["read_bounces"]

_TOLD: Final[set[Path]] = set()  # unreadable reports already told, in this process


def read_bounces(
    folder: Path,
    store: Store,
    bounce_address: str | None,
    *,
    clock: Callable[[], float] = time.time,
) -> tuple[int, list[str]]:
    """Read every waiting report: (readers suppressed, lines to tell)."""
    verp = _verp(bounce_address)
    suppressed, lines = 0, []
    for report in read_reports(folder):
        if isinstance(report, Unreadable):
            if report.path not in _TOLD:
                _TOLD.add(report.path)
                lines.append(f"{report.path}: unreadable bounce report ({report.why}): left there")
            continue
        reader = _reader(report, store, verp)
        if reader is not None and _suppresses(report, reader, verp):
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
    entries = store.outbox.entries_for(list(report.quoted))
    return next((entry.recipient for entry in entries.values()), None)


def _suppresses(report: Report, reader: str, verp: re.Pattern[str] | None) -> bool:
    """A complaint suppresses its reader; a bounce, if it names them as failing (or
    came back to their own VERP address, which no one else's mail is sent from)."""
    if report.kind == "complaint":
        return not report.failed or reader in report.failed
    if report.kind != "bounce":
        return False
    return reader in report.failed or (verp is not None and bool(report.failed))

"""Bounce reports delivered to `bounces.maildir`, read as data: RFC 3464 delivery status
notifications and the many older formats (flufl.bounce reads both), and RFC 5965
abuse reports (complaints).

A report is only read here: what it says about whom, and which of our messages it
quotes (its VERP token, or the original Message-ID). Matching it to a reader and
suppressing them is the run's (`run/bounces.py`). A file too large, or that no parser
makes sense of, is unreadable: the caller leaves it where it is.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from email.message import EmailMessage, Message
from pathlib import Path
from typing import Final, Literal

from flufl.bounce import all_failures

__all__ = ["MAX_REPORT", "Report", "Unreadable", "handled", "read_reports"]

MAX_REPORT: Final = 2 * 1024 * 1024  # bytes: a report quotes at most one message
_MESSAGE_ID: Final = re.compile(r"<([0-9a-f]{32})@[^<>\s]+>")
_ADDRESSED: Final = ("Delivered-To", "X-Original-To", "Envelope-To", "To")


@dataclass(frozen=True, slots=True)
class Report:
    """What one report file says."""

    path: Path
    kind: Literal["bounce", "complaint", "other"]  # other: a delay, an auto-reply…
    failed: frozenset[str]  # the addresses reported as failing for good (lower case)
    addressed: tuple[str, ...]  # where the report was delivered (a VERP address), as written
    quoted: tuple[str, ...]  # the keys of our Message-IDs it quotes
    status: str  # what it said, for the suppression's detail


@dataclass(frozen=True, slots=True)
class Unreadable:
    path: Path
    why: str


def read_reports(
    folder: Path, skip: Collection[Path] = frozenset()
) -> Iterator[Report | Unreadable]:
    """Every report waiting in the Maildir's `new/`, oldest name first; not those in
    `skip` (found unreadable before, and left there)."""
    new = folder / "new"
    try:
        names = sorted(p.name for p in new.iterdir() if not p.name.startswith("."))
    except OSError:
        return
    for name in names:
        if new / name not in skip:
            yield _read(new / name)


def handled(report: Report | Unreadable) -> None:
    """Move a handled report to `cur/`, marked seen, as a mail client would."""
    target = report.path.parent.parent / "cur" / f"{report.path.name.split(':')[0]}:2,S"
    target.parent.mkdir(exist_ok=True)
    report.path.rename(target)


def _read(path: Path) -> Report | Unreadable:
    try:
        if not path.is_file() or path.is_symlink():
            return Unreadable(path, "not a plain file")
        if path.stat().st_size > MAX_REPORT:
            return Unreadable(path, f"larger than {MAX_REPORT // 1024 // 1024} MB")
        raw = path.read_bytes()
    except OSError as e:
        return Unreadable(path, e.strerror or "cannot be read")
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        if not isinstance(msg, EmailMessage):
            return Unreadable(path, "not a message")
        return _report(path, msg, raw)
    except Exception as e:  # any parser's surprise: the file is left alone
        return Unreadable(path, f"not a report a parser reads ({type(e).__name__})")


def _report(path: Path, msg: EmailMessage, raw: bytes) -> Report:
    addressed = tuple(
        str(value).strip("<> ") for name in _ADDRESSED for value in msg.get_all(name, [])
    )
    quoted = tuple(dict.fromkeys(_MESSAGE_ID.findall(raw.decode("ascii", "replace"))))
    if msg.get_content_type() == "multipart/report" and (
        msg.get_param("report-type", "", header="content-type") == "feedback-report"
    ):
        return Report(path, "complaint", _complained(msg), addressed, quoted, "abuse report")
    # flufl.bounce's detectors read headers as compat32 messages do: give them one.
    legacy = email.message_from_bytes(raw)
    _, permanent = all_failures(legacy)
    failed = frozenset(a.decode("ascii", "replace").strip("<> ").lower() for a in permanent)
    status = _status(legacy) if failed else ""
    return Report(path, "bounce" if failed else "other", failed, addressed, quoted, status)


def _complained(msg: EmailMessage) -> frozenset[str]:
    """The recipient an abuse report names: its Original-Rcpt-To, else the quoted To."""
    found: set[str] = set()
    for part in msg.walk():
        if part.get_content_type() == "message/feedback-report":
            body = part.get_payload()
            first = body[0] if isinstance(body, list) and body else body
            text = first.as_string() if isinstance(first, Message) else str(first)
            found.update(
                m.strip("<> ").lower() for m in re.findall(r"(?im)^Original-Rcpt-To:\s*(\S+)", text)
            )
        elif part.get_content_type() in ("message/rfc822", "text/rfc822-headers") and not found:
            inner = part.get_payload()
            head = inner[0] if isinstance(inner, list) else email.message_from_string(str(inner))
            if isinstance(head, Message) and head.get("To"):
                found.update(a.lower() for _, a in email.utils.getaddresses([str(head["To"])]))
    return frozenset(found)


def _status(msg: Message) -> str:
    """The first per-recipient status and its diagnostic, for the record: "5.1.1 …"."""
    text = msg.as_string()
    status = re.search(r"(?im)^Status:\s*([245]\.\d{1,3}\.\d{1,3})", text)
    said = re.search(r"(?im)^Diagnostic-Code:\s*(?:smtp;\s*)?(.+)$", text)
    parts = [status.group(1) if status else "", said.group(1).strip() if said else ""]
    return " ".join(p for p in parts if p)[:300] or "permanent failure"

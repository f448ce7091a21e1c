"""Who answered: each traveller's last alert per advisory that asked for an
acknowledgement, and whether and how they gave it. What `advisory acks` prints, and
the phone confirmation `advisory ack` records.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from advisory.domain.countries import country_name
from advisory.errors import UsageError
from advisory.run.exposure import Answered, fit, report, said
from advisory.state import Store
from advisory.state.base import Traveller

__all__ = ["Answer", "answered", "answers", "by_phone", "render"]


@dataclass(frozen=True, slots=True)
class Answer:
    """One traveller's answer to one advisory: the JSON object `advisory acks` prints."""

    name: str
    email: str
    country: str
    advisory: str  # the advisory's key (VE, VE@us-state)
    start: str
    end: str
    delivered: str  # when, in UTC (ISO 8601); "" if it was not
    status: str  # the alert's: sent, queued, failed
    acknowledged: str  # when, in UTC; "" if not yet
    how: str  # "web", "phone", or ""


def answers(store: Store, *, country: str | None = None, pending: bool = False) -> list[Answer]:
    """The answers, by trip start and address; `pending`: those not acknowledged yet."""
    rows = store.acks.travellers(country=country)
    return [
        Answer(t.told.name, t.told.email, t.told.country, t.told.advisory, t.told.start,
               t.told.end, _utc(t.sent_at), t.status, _utc(t.acked_at), t.how or "")
        for t in rows if not (pending and t.acked_at is not None)
    ]  # fmt: skip


def answered(store: Store) -> Answered:
    """(recipient, advisory key) -> acknowledged, for `advisory exposed`."""
    return {(t.told.recipient, t.told.advisory): t.acked_at is not None
            for t in store.acks.travellers()}  # fmt: skip


def by_phone(store: Store, address: str, country: str, at: float, note: str = "") -> list[str]:
    """Record that `address` confirmed every alert about `country` that asked them (the
    last of each advisory), as the desk heard it by phone: one line per alert.
    UsageError where no alert asked them, so that nothing is recorded by mistake."""
    mine = [t for t in store.acks.travellers() if t.told.recipient == address]  # (a few)
    if not mine:
        raise UsageError(f"{address}: no alert asked this address to confirm; nothing recorded")
    here = [t for t in mine if t.told.country == country]
    if not here:
        asked = ", ".join(sorted({t.told.country for t in mine}))
        raise UsageError(
            f"{address}: no alert about {country_name(country)} ({country}) asked them to "
            f"confirm (only {asked}); nothing recorded"
        )
    out = []
    for t in here:
        if t.acked_at is not None:
            out.append(f"{_named(t)}: already confirmed {_utc(t.acked_at)} ({t.how})")
        else:
            store.acks.acknowledge(t.told, at, "phone", note)
            out.append(f"{_named(t)}: confirmed by phone")
    return out


def _named(t: Traveller) -> str:
    return f"{t.told.email}, {country_name(t.told.country)} ({t.told.advisory})"


def _utc(at: float | None) -> str:
    return "" if at is None else datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


def render(rows: list[Answer], fmt: str) -> str:
    """The answers in `fmt`: a table readable at 100 columns, CSV, or JSON."""
    return report(rows, fmt, Answer.__slots__, _table)


def _table(rows: list[Answer]) -> Iterator[str]:
    line = "{:<15} {:<25} {:<3} {:<10} {:<10} {:<9} {}\n"
    yield line.format("NAME", "EMAIL", "CC", "START", "END", "DELIVERED", "CONFIRMED (UTC)")
    for row in rows:
        delivered = said(True) if row.delivered else row.status.upper()
        when = row.acknowledged[:16].replace("T", " ")
        acked = f"{when} {row.how}" if row.acknowledged else said(False)
        yield line.format(fit(row.name, 15), fit(row.email, 25), row.country, row.start,
                          row.end, delivered, acked)  # fmt: skip

"""Duty of care: the desk's summary of the travellers a run told, the one reminder to a
traveller who has not acknowledged within `escalation.after`, and the desk's escalation
of everyone still unacknowledged or unreachable, one message per advisory version.

Planned from the state alone (the travellers' alerts, their deliveries and their
acknowledgements), so `serve` can do it every few seconds without the list. Each such
message is queued with what it tells in one transaction (`Delivery.queue`): a crash or
a restart neither loses one nor tells anyone twice, and a retry tells the same people.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from functools import partial
from itertools import groupby
from typing import Final

from advisory.domain.models import Advisory, Format, Subscriber
from advisory.inputs.config import Escalation
from advisory.mail.compose import message_key
from advisory.mail.rendering import Line
from advisory.run.plan import Job, Plan, Suppressed
from advisory.state import Store
from advisory.state.base import Duty, Entry, Kind, Traveller

__all__ = ["DUTIES", "Note", "plan_duty"]

DUTIES: Final[tuple[Kind, ...]] = ("reminder", "summary", "escalation")


@dataclass(frozen=True, slots=True)
class Note:
    """What a reminder or a desk message tells: the travellers' alerts it is about, and
    (the desk's) the acknowledgements no earlier message told."""

    duty: Duty
    told: tuple[Traveller, ...]
    acks: tuple[Traveller, ...] = ()

    def lines(self) -> tuple[list[Line], list[Line]]:
        """The alerts and the acknowledgements, as the desk reads of them."""
        return [_line(t, self.duty) for t in self.told], [_line(t, self.duty) for t in self.acks]


def _line(t: Traveller, duty: Duty) -> Line:
    return Line(
        t.told.name, t.told.email, date.fromisoformat(t.told.start),
        date.fromisoformat(t.told.end), t.status, t.queued_at, t.sent_at, t.error, t.asked,
        t.acked_at, t.how, reminded=duty == "escalation" and bool(t.reminder),
    )  # fmt: skip


def plan_duty(
    store: Store,
    escalation: Escalation,
    now: float,
    *,
    retries_only: bool = False,
    suppressed: Suppressed | None = None,
) -> Plan:
    """The reminders and desk messages due now, and the retries of those queued."""
    out = Plan()
    outbox, acks = store.outbox, store.acks
    desk = Subscriber(name=escalation.desk_name, email=escalation.desk, format=Format.HTML)
    advisories: dict[str, Advisory | None] = {}

    def about(version: str) -> Advisory | None:
        if version not in advisories:
            advisories[version] = outbox.advisory(version)
        return advisories[version]

    def job(note: Note, to: Subscriber, advisory: Advisory, entry: Entry, new: bool) -> Job:
        return Job(to, entry, new, (advisory,), note=note)

    def jobs() -> Iterator[list[Job]]:
        due: list[Job] = []
        queued = outbox.entries(status="queued", kinds=DUTIES)
        readers = [e.recipient for e in queued if e.kind == "reminder"]
        quiet = suppressed(readers) if suppressed and readers else set()
        for entry in queued:
            if entry.recipient in quiet and entry.kind == "reminder":
                out.stale.append(entry.key)  # suppressed since: cancelled, as an alert is
                continue
            if (advisory := about(entry.version)) is None:
                continue
            told = _once(acks.told_in(entry.key))
            reported = tuple(acks.reported_in(entry.key)) if entry.kind != "reminder" else ()
            if not told and not reported:
                out.stale.append(entry.key)
                continue
            note = Note(entry.kind, told, reported)  # type: ignore[arg-type]
            to = desk if entry.kind != "reminder" else _traveller(told[0], entry.format)
            made = out.file(entry, entry, partial(job, note, to, advisory), now=now)
            if made is not None:
                due.append(made)
        if not retries_only:
            due += _new(acks.open(), now, escalation, desk, about, store, suppressed)
        known = outbox.entries_for([j.entry.key for j in due if j.new])
        yield [j for j in due if not j.new or j.entry.key not in known]

    out.chunks = jobs()
    return out


def _new(
    rows: list[Traveller],
    now: float,
    escalation: Escalation,
    desk: Subscriber,
    about: Callable[[str], Advisory | None],
    store: Store,
    suppressed: Suppressed | None,
) -> list[Job]:
    """The summaries, reminders and escalations that fall due at `now`."""
    after = escalation.after.total_seconds()
    waiting = [t for t in rows if t.asked and t.acked_at is None and t.latest]
    summaries = [t for t in rows if t.summary is None and t.status in ("sent", "failed")]
    overdue = [t for t in waiting if t.escalation is None and (
        t.status == "failed" or (t.sent_at or t.queued_at) + after <= now)]  # fmt: skip
    late = [t for t in waiting if t.reminder is None and t.status == "sent"
            and t.sent_at is not None and t.sent_at + after <= now]  # fmt: skip
    quiet = suppressed([t.told.recipient for t in late]) if suppressed and late else set()
    if skipped := [t.told.key for t in late if t.told.recipient in quiet]:
        with store.transaction():  # a suppressed traveller is not reminded, ever
            store.acks.mark("", "reminder", skipped)
    out: list[Job] = []
    reminded: dict[str, str] = {}  # alert -> its reminder, queued with the escalation
    for t in late:
        if t.told.recipient in quiet or (advisory := about(t.told.version)) is None:
            continue
        key = reminded[t.told.key] = message_key(t.told.recipient, f"reminder:{t.told.key}",
                                                 t.format)  # fmt: skip
        reminder = Entry(key, "reminder", t.told.recipient, advisory.key, t.told.version,
                         t.format, "queued", now, next_attempt=now)  # fmt: skip
        out.append(Job(_traveller(t, t.format), reminder, True, (advisory,),
                       note=Note("reminder", (t,))))  # fmt: skip
    # (the desk reads that they were reminded, as a retry of its message would)
    overdue = [replace(o, reminder=reminded[o.told.key]) if o.told.key in reminded else o
               for o in overdue]  # fmt: skip
    reported: set[str] = set()  # versions whose acknowledgements a message of this pass tells
    desk_duties: tuple[tuple[Duty, list[Traveller]], ...] = (
        ("summary", summaries), ("escalation", overdue))  # fmt: skip
    for duty, group in desk_duties:
        by_version = sorted(group, key=lambda t: t.told.version)
        for version, each in groupby(by_version, key=lambda t: t.told.version):
            told = tuple(each)
            if (advisory := about(version)) is None:
                continue
            since = () if version in reported else tuple(store.acks.unreported(version))
            reported.add(version)
            out.append(_to_desk(desk, duty, advisory, told, since, now))
    # Confirmations that came after the desk was told of their travellers: at once,
    # in a message of their own (others wait for the desk's next message of theirs).
    late = [t for t in store.acks.unreported() if t.escalation and t.told.version not in reported]
    after_escalation = sorted(late, key=lambda t: t.told.version)
    for version, each in groupby(after_escalation, key=lambda t: t.told.version):
        if (advisory := about(version)) is not None:
            out.append(_to_desk(desk, "summary", advisory, (), tuple(each), now))
    return out


def _to_desk(
    desk: Subscriber,
    duty: Duty,
    advisory: Advisory,
    told: tuple[Traveller, ...],
    since: tuple[Traveller, ...],
    now: float,
) -> Job:
    """A message to the desk, keyed by everything it tells: never the same twice."""
    topic = ",".join([duty, advisory.version, *(t.told.key for t in told),
                      *(f"{t.told.key}@{t.acked_at}" for t in since)])  # fmt: skip
    key = message_key(desk.key, topic, "html")
    entry = Entry(key, duty, desk.key, advisory.key, advisory.version, "html", "queued", now,
                  next_attempt=now)  # fmt: skip
    return Job(desk, entry, True, (advisory,), note=Note(duty, told, since))


def _once(rows: list[Traveller]) -> tuple[Traveller, ...]:
    """Each traveller once per version (the first of their alerts of it): a second trip
    under the same version shares the first one's reminder and escalation."""
    seen: set[tuple[str, str]] = set()
    out = []
    for t in rows:
        if (t.told.recipient, t.told.version) not in seen:
            seen.add((t.told.recipient, t.told.version))
            out.append(t)
    return tuple(out)


def _traveller(t: Traveller, fmt: str) -> Subscriber:
    """The reader of a reminder, as their alert was addressed."""
    return Subscriber(name=t.told.name, email=t.told.email, format=Format(fmt))

"""Advisory + subscriber -> subject, plain text, HTML and the short alert.

Jinja2 templates from `templates/`, compiled once at start-up with
`StrictUndefined`; autoescape on for `.html`. Advisory and config text is only
ever passed as data, never compiled as template source. No I/O after start-up.
"""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import jinja2

from advisory.domain.changes import Change, what_changed
from advisory.domain.countries import country_name
from advisory.domain.models import ACK_MARK, Advisory, Format, Letterhead, Subscriber, Trip
from advisory.domain.trips import days, line, short
from advisory.errors import TemplateError

__all__ = ["ALERT_MAX", "Line", "Rendered", "Renderer", "default_templates"]

ALERT_MAX: Final = 160
TEXT_WIDTH: Final = 72
TEMPLATES: Final = (
    *(f"{prefix}{name}"
      for prefix in ("", "digest_")
      for name in ("subject.txt", "email.txt", "email.html", "alert.txt")),
    *(f"desk_{name}" for name in ("subject.txt", "email.txt", "email.html")),
    "layout.html",  # extended by both HTML emails
    "footer.txt",  # included by both text emails
    "changed.html",  # what changed, included by alerts and digests
    "changed.txt",
)  # fmt: skip


def default_templates() -> Path:
    """The shipped templates: inside the installed package, else the project's `templates/`."""
    package = Path(__file__).resolve().parent.parent
    packaged = package / "templates"
    return packaged if packaged.is_dir() else package.parent / "templates"


@dataclass(frozen=True, slots=True)
class Line:
    """One traveller as the duty desk reads of them: their trip, what became of the
    alert, and their acknowledgement, if any."""

    name: str
    email: str
    start: date
    end: date
    status: str  # the alert's: "sent", "queued" (not delivered yet), "failed"
    queued_at: float
    sent_at: float | None = None
    error: str | None = None  # the server's reply, where it refused
    asked: bool = False  # the alert asked for an acknowledgement
    acked_at: float | None = None
    how: str | None = None  # "web" or "phone"
    reminded: bool = False


@dataclass(frozen=True, slots=True)
class Rendered:
    """A message's subject and bodies (`html` None for plain-text formats)."""

    subject: str
    text: str
    html: str | None = None


class Renderer:
    def __init__(self, folder: Path | None = None, *, timezone: str = "UTC") -> None:
        self.folder = folder or default_templates()
        self.tz = ZoneInfo(timezone)
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self.folder),
            autoescape=jinja2.select_autoescape(["html"], default_for_string=False),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        self.env.filters["wrap"] = wrap
        self.templates = {name: self._compile(name) for name in TEMPLATES}

    def _compile(self, name: str) -> jinja2.Template:
        try:
            return self.env.get_template(name)
        except jinja2.TemplateSyntaxError as e:
            raise TemplateError(f"{self.folder / name}:{e.lineno}: {e.message}") from None
        except jinja2.TemplateNotFound:
            raise TemplateError(f"{self.folder / name}: template not found") from None

    def _render(self, name: str, context: dict[str, Any]) -> str:
        try:
            return self.templates[name].render(context)
        except jinja2.TemplateError as e:
            raise TemplateError(f"{self.folder / name}: {e}") from None

    def _parts(
        self,
        prefix: str,
        subscriber: Subscriber,
        context: dict[str, Any],
        link: str | None = None,
    ) -> Rendered:
        """The message in the reader's format. `link`: the alert's short acknowledgement
        link, kept whole at its end where it fits beside the alert's first words."""
        subject = " ".join(self._render(f"{prefix}subject.txt", context).split())
        if subscriber.format is Format.ALERT:
            said = self._render(f"{prefix}alert.txt", context)
            return Rendered(subject, alert_text(said, link) + "\n")
        text = self._render(f"{prefix}email.txt", context).strip() + "\n"
        html = (
            self._render(f"{prefix}email.html", context)
            if subscriber.format is Format.HTML
            else None
        )
        return Rendered(subject, text, html)

    def render(
        self,
        advisory: Advisory,
        subscriber: Subscriber,
        letterhead: Letterhead,
        change: Change | None = None,
        *,
        trip: Trip | None = None,
        briefing: bool = False,
        today: date | None = None,
        ack: bool = False,
        reminder: bool = False,
    ) -> Rendered:
        """One alert; `change` says what differs from what this reader last received.
        `trip`: the reader's trip to the country, named first (on `today`); `briefing`:
        the message that opens its window. `ack`: it asks for an acknowledgement (the
        letterhead's link); `reminder`: it asks again."""
        change = change or what_changed(None, advisory)
        head = alert_head(advisory, change)
        links = letterhead.ack_links if ack else None
        context = {
            **self._common(subscriber, letterhead),
            **self._about(advisory, trip, today),
            "change": change,
            "briefing": briefing,
            "alert_head": head,
            "reminder": reminder,
            "ack_link": links[0] if links else None,
        }
        if reminder:
            context["because"] = (
                f"You receive this because an alert about {advisory.country_name} asked you "
                "to confirm that you have read it."
            )
        if trip is not None and len(tag := short(trip, today or trip.start)) + len(head) < 140:
            context["alert_head"] = f"{tag}: {head}"  # where it fits beside what it says
        link = links[1] if links else None
        # The change note in place of the summary, where the alert holds it whole.
        room = ALERT_MAX - _width(_confirm(link))
        note = advisory.change_note
        lead = "REMINDER, CONFIRM: " if reminder else ""
        fits = len(f"{lead}{context['alert_head']}. Latest update: {note}") <= room
        context["alert_note"] = note if note and fits else None
        return self._parts("", subscriber, context, link)

    def render_desk(
        self,
        duty: str,
        advisory: Advisory,
        lines: Sequence[Line],
        acks: Sequence[Line],
        desk: Subscriber,
        letterhead: Letterhead,
        *,
        after: str,
    ) -> Rendered:
        """A message to the duty desk about one advisory version: the `summary` of the
        travellers a run told, or the `escalation` of those who have not acknowledged it
        within `after` (or could not be reached); with the acknowledgements since."""
        rows = [self._line(line) for line in lines]
        context = {
            **self._common(desk, letterhead),
            **self._about(advisory),
            "duty": duty,
            "lines": rows,
            "acks": [self._line(line) for line in acks],
            "after": after,
            "unreachable": sum(row["unreachable"] for row in rows),
            "desk": True,
            "because": f"You receive this as the duty desk of {letterhead.name}.",
        }
        return self._parts("desk_", desk, context)

    def _line(self, line: Line) -> dict[str, Any]:
        """A desk message's row, what became of the alert said in words, its times in
        the service's timezone."""
        how = "by phone" if line.how == "phone" else "on the web page"
        if line.status == "failed":
            said = f"{line.error or 'refused'}"
        elif line.status != "sent" or line.sent_at is None:
            said = f"not delivered yet (queued {self.moment(line.queued_at)}" + (
                f"; the server's last reply: {line.error})" if line.error else ")"
            )
        else:
            said = f"delivered {self.moment(line.sent_at)}"
        if line.acked_at is not None:
            said += f"; confirmed {self.moment(line.acked_at)} {how}"
        elif line.reminded:
            said += "; reminded"
        elif line.asked:
            said += "; asked to confirm"
        return {
            "name": line.name,
            "email": line.email,
            "trip": days(line.start, line.end).removeprefix("from ").removeprefix("on "),
            "said": said,
            "unreachable": line.status == "failed",
            "acked": self.moment(line.acked_at) if line.acked_at is not None else "",
            "how": how,
        }

    def moment(self, at: float) -> str:
        """'1 December 2026, 14:03 UTC': an instant as messages say it."""
        return self.when(datetime.fromtimestamp(at, UTC))

    def render_digest(
        self,
        advisories: Sequence[Advisory],
        subscriber: Subscriber,
        letterhead: Letterhead,
        *,
        changes: Sequence[Change | None] = (),
        trips: Sequence[Trip | None] = (),
        today: date | None = None,
    ) -> Rendered:
        """A digest, highest level first: the reminder of every standing advisory for
        this reader, or (with `changes`) the news of their period and what changed in
        each. `trips`: the reader's trip to each advisory's country, if any."""
        told = sorted(
            itertools.zip_longest(advisories, trips, changes),
            key=lambda t: (-t[0].highest, -t[0].level, t[0].country_name),
        )
        items = [{**self._about(a, trip, today), "change": change} for a, trip, change in told]
        context = {
            **self._common(subscriber, letterhead),
            "advisories": items,
            "news": bool(changes),
            "trips": [item["trip"] for item in items if item["trip"]],
            "alert_head": ", ".join(
                (f"{short(trip, today or trip.start)}: " if trip else "")
                + f"{a.country_name.upper()}{f' ({a.by})' if a.by else ''} {a.rank}"
                for a, trip, _ in told
            ),
        }
        return self._parts("digest_", subscriber, context)

    def _about(
        self, advisory: Advisory, trip: Trip | None = None, today: date | None = None
    ) -> dict[str, Any]:
        return {
            "trip": line(trip, today or trip.start) if trip is not None else None,
            "advisory": advisory,
            "country": advisory.country_name,
            "level": advisory.level,
            "in_parts": advisory.in_parts,  # a region's higher level, or None
            "regions": advisory.regions,
            "risks": advisory.risks,
            "paragraphs": advisory.paragraphs,
            "issued": self.when(advisory.issued),
        }

    def _common(self, subscriber: Subscriber, letterhead: Letterhead) -> dict[str, Any]:
        if subscriber.every_country:
            wanted = "every country"
        elif not subscriber.countries:
            wanted = "the countries of your trips"
        else:
            wanted = _join([country_name(code) for code in subscriber.countries])
            wanted += " and the countries of your trips" if subscriber.trips else ""
        return {
            "subscriber": subscriber,
            "subscribed_to": wanted,
            "min_level": subscriber.min_level,
            "letterhead": letterhead,
            "unsubscribe": letterhead.unsubscribe_link,
            "because": None,  # what the footer says instead, for a message of another kind
            "desk": False,
            "reminder": False,
            "ack_link": None,
            "alert_note": None,
        }

    def when(self, issued: date) -> str:
        if isinstance(issued, datetime):
            local = issued.astimezone(self.tz) if issued.tzinfo else issued
            zone = local.tzname() or ""
            return f"{local.day} {local:%B %Y, %H:%M} {zone}".strip()
        return f"{issued.day} {issued:%B %Y}"


def alert_head(advisory: Advisory, change: Change) -> str:
    """'VENEZUELA raised to L4 DO NOT TRAVEL (+detention)': the alert's first words."""
    country, level = advisory.country_name.upper(), advisory.level
    country += f" ({advisory.by})" if advisory.by else ""
    rank = f"{advisory.rank} {level.label.upper()}"
    marks = " ".join(m for m in (change.risk_marks(), change.region_marks()) if m)
    if len(country) + len(rank) + len(marks) > 100:  # every risk at once: letters, as the US does
        marks = " ".join(
            m for m in ("+" + "".join(r.letter for r in change.added) if change.added else "",
                        "-" + "".join(r.letter for r in change.removed) if change.removed else "")
            if m
        )  # fmt: skip
    if change.direction:
        return f"{country} {change.direction} to {rank}" + (f" ({marks})" if marks else "")
    if not change.first and not change.unchanged:
        return f"{country} {rank} updated" + (f" ({marks})" if marks else "")
    names = ", ".join(r.value for r in advisory.risks)
    if len(country) + len(rank) + len(names) > 100:
        names = "".join(r.letter for r in advisory.risks)
    return f"{country} {rank}" + (f" [{names}]" if names else "")


def wrap(text: str, width: int = TEXT_WIDTH, indent: str = "") -> str:
    """Wrap a paragraph for plain-text mail; long words (URLs) are never broken."""
    return textwrap.fill(
        text,
        width,
        initial_indent=indent,
        subsequent_indent=" " * len(indent),
        break_long_words=False,
        break_on_hyphens=False,
    )


def alert_text(rendered: str, link: str | None = None) -> str:
    """One line of at most ALERT_MAX characters, cut at a word with an ellipsis.

    `link` (an acknowledgement's, `ACK_MARK` for its 22-character token) ends it whole,
    where the line keeps at least its first 60 characters beside it."""
    line = " ".join(rendered.split())
    tail = _confirm(link)
    room = ALERT_MAX - _width(tail)
    if tail and room < 60:
        room, tail = ALERT_MAX, ""
    if len(line) <= room:
        return line + tail
    cut = line[: room - 1]
    if " " in cut[room // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.-") + "…" + tail


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _confirm(link: str | None) -> str:
    """How an alert ends with its acknowledgement link ("" without one)."""
    return f" Confirm: {link}" if link else ""


def _width(text: str) -> int:
    """Characters `text` takes once composed: `ACK_MARK` stands for a 22-character token."""
    return len(text) + text.count(ACK_MARK) * 21

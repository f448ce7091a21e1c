"""When a trip concerns its traveller, and how a message names it. Pure: the clock is
an argument.

A trip's window opens `lead` before the start day begins and closes when the end day
does, both in the service's timezone: inside it the trip's country concerns the
traveller as if it were in their countries; outside it, not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from advisory.domain.countries import country_name
from advisory.domain.models import Subscriber, Trip

__all__ = ["DEFAULT_LEAD", "Travel", "days", "line", "short"]

DEFAULT_LEAD: Final = timedelta(days=7)
LONGEST: Final = timedelta(days=365)  # a window this long is a stay, not a trip


@dataclass(frozen=True, slots=True)
class Travel:
    """The rules of trips for one config: the lead time, and the calendar's timezone."""

    lead: timedelta = DEFAULT_LEAD
    timezone: str = "UTC"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)  # (ZoneInfo keeps each zone it made)

    def window(self, trip: Trip) -> tuple[float, float]:
        """(opens, closes) as timestamps: closes is the first instant after the end day."""
        opens = datetime.combine(trip.start, time(), self.zone) - self.lead
        closes = datetime.combine(trip.end + timedelta(days=1), time(), self.zone)
        return opens.timestamp(), closes.timestamp()

    def is_open(self, trip: Trip, now: float) -> bool:
        opens, closes = self.window(trip)
        return opens <= now < closes

    def overlaps(self, trip: Trip, day: date) -> bool:
        """Whether the window includes any part of `day` (a report for a date)."""
        opens, closes = self.window(trip)
        start = datetime.combine(day, time(), self.zone).timestamp()
        end = datetime.combine(day + timedelta(days=1), time(), self.zone).timestamp()
        return opens < end and start < closes

    def too_long(self, trip: Trip) -> str | None:
        """Why a trip's window is refused, if it is: a year or more belongs in countries."""
        opens = datetime.combine(trip.start, time()) - self.lead
        if datetime.combine(trip.end + timedelta(days=1), time()) - opens < LONGEST:
            return None
        lead = f", with its lead of {_days(self.lead)}" if self.lead else ""
        return f"a year or more from the window's opening{lead}: list the country in countries"

    def is_closed(self, trip: Trip, now: float) -> bool:
        return self.window(trip)[1] <= now

    def open_trips(self, subscriber: Subscriber, now: float) -> dict[str, Trip]:
        """Country -> the trip there whose window is open now (the earliest, if several)."""
        out: dict[str, Trip] = {}
        for trip in sorted(subscriber.trips, key=lambda t: (t.start, t.end)):
            if trip.country not in out and self.is_open(trip, now):
                out[trip.country] = trip
        return out

    def closed_trips(self, subscriber: Subscriber, now: float) -> int:
        return sum(self.is_closed(trip, now) for trip in subscriber.trips)


def line(trip: Trip, today: date) -> str:
    """The trip as a message's first line names it: "You travel to Venezuela from 3 to
    10 December 2026" before it starts, "You are in Venezuela until 10 December 2026"
    once it has."""
    name = country_name(trip.country)
    if today < trip.start:
        return f"You travel to {name} {days(trip.start, trip.end)}"
    return f"You are in {name} until {_day(trip.end)}"


def short(trip: Trip, today: date) -> str:
    """The same in a few capitals, for the 160-character alert: "TRIP 3-10 DEC"."""
    start, end = trip.start, trip.end
    if today >= start:
        return f"IN COUNTRY TO {end.day} {end:%b}".upper()
    if start == end:
        return f"TRIP {start.day} {start:%b}".upper()
    if (start.year, start.month) == (end.year, end.month):
        return f"TRIP {start.day}-{end.day} {end:%b}".upper()
    return f"TRIP {start.day} {start:%b}-{end.day} {end:%b}".upper()


def days(start: date, end: date) -> str:
    """'from 3 to 10 December 2026', 'from 28 November to 3 December 2026', 'on 3 ...'."""
    if start == end:
        return f"on {_day(end)}"
    if start.year != end.year:
        return f"from {_day(start)} to {_day(end)}"
    if start.month != end.month:
        return f"from {start.day} {start:%B} to {_day(end)}"
    return f"from {start.day} to {_day(end)}"


def _days(span: timedelta) -> str:
    if span % timedelta(days=1):
        return f"{span.total_seconds() / 3600:g} hours"
    return f"{span.days} day" + ("s" if span.days != 1 else "")


def _day(day: date) -> str:
    return f"{day.day} {day:%B %Y}"

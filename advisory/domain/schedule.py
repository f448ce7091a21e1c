"""Cron expressions as operators write them, turned into APScheduler triggers.

APScheduler 3 numbers the days of the week from 0 = Monday; crontab(5) numbers them
from 0 = Sunday (7 is Sunday too). Numeric days are rewritten as names here, so
`0 8 * * 1` fires on Mondays, as every crontab reader expects.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Final
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

__all__ = ["cron_trigger", "digest_period", "period_start"]

_DAYS: Final = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _day(token: str) -> int:
    number = int(token)
    if not 0 <= number <= 7:
        raise ValueError(f"day of week {number} is not 0-7")
    return number


def _weekdays(field: str) -> str:
    """'1-5' -> 'mon,tue,wed,thu,fri'; names and '*' pass through unchanged."""
    out = []
    for part in field.split(","):
        span, _, step = part.partition("/")
        if not any(c.isdigit() for c in span) and not (span == "*" and step):
            out.append(part)
            continue
        first, _, last = span.partition("-")
        low, high = (0, 6) if first == "*" else (_day(first), _day(last or first))
        days = range(low, high + 1, int(step) if step else 1)
        out.extend(_DAYS[d] for d in days)
    return ",".join(dict.fromkeys(out))


def cron_trigger(expr: str, timezone: tzinfo) -> CronTrigger:
    """A trigger for a five-field crontab expression; ValueError if it is not one."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError("expected five fields")
    minute, hour, day, month, weekday = fields
    return CronTrigger(
        minute=minute, hour=hour, day=day, month=month, day_of_week=_weekdays(weekday),
        timezone=timezone,
    )  # fmt: skip


def period_start(trigger: CronTrigger, now: datetime) -> datetime | None:
    """The last time `trigger` fired at or before `now`, or None if not within a year."""
    for back in (timedelta(minutes=1), timedelta(hours=1), timedelta(days=1),
                 timedelta(days=8), timedelta(days=32), timedelta(days=367)):  # fmt: skip
        fire: datetime | None = trigger.get_next_fire_time(None, now - back)
        if fire is not None and fire <= now:
            while (following := trigger.get_next_fire_time(fire, fire)) is not None and (
                following <= now
            ):
                fire = following
            return fire
    return None


def digest_period(cron: str | None, timezone: str, now: float) -> str | None:
    """The digest period `now` falls in, named by the scheduled time that began it.

    Every run until the next scheduled digest gets the same name, so a digest run twice
    in one period is sent once. The name is the local wall-clock time: on the night
    clocks go back, the cron firing twice at 02:30 is still one period.
    """
    if cron is None:
        return None
    zone = ZoneInfo(timezone)
    start = period_start(cron_trigger(cron, zone), datetime.fromtimestamp(now, zone))
    return start.replace(tzinfo=None).isoformat() if start else "before-first"

"""Cron expressions as operators write them, turned into APScheduler triggers.

APScheduler 3 numbers the days of the week from 0 = Monday and runs its named ranges
Monday to Sunday; crontab(5) numbers them from 0 = Sunday (7 is Sunday too) and runs
SUN-TUE from Sunday. Days are rewritten as a list of names here, so `0 8 * * 1` fires
on Mondays and `SUN-TUE` on three days, as every crontab reader expects.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, tzinfo
from typing import Final
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

__all__ = ["cron_trigger", "digest_period", "period_start"]

_DAYS: Final = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FIELDS: Final = ("minute", "hour", "day", "month", "day_of_week")
_SAID: Final = {"day": "day of month", "day_of_week": "day of week"}


def _day(token: str, *, end: bool = False) -> int:
    """A day of the week as crontab(5) numbers it: 0 or 7 Sunday, or its name; Sunday
    ending a range is 7 (FRI-SUN is Friday to Sunday)."""
    name = token.lower()
    if name in _DAYS:
        number = 7 if name == "sun" and end else _DAYS.index(name)
    elif token.isdigit():
        number = int(token)
    else:
        raise ValueError(f"{token!r} is not a day (0-7, or SUN to SAT)")
    if not 0 <= number <= 7:
        raise ValueError(f"{number} is not a day (0-7, or SUN to SAT)")
    return number


def _weekdays(field: str) -> str:
    """crontab(5)'s days as names APScheduler reads the same way: '1-5' and 'MON-FRI' ->
    'mon,tue,wed,thu,fri'; 'SUN-TUE' -> 'sun,mon,tue'; '*' passes through."""
    out = []
    for part in field.split(","):
        span, _, step = part.partition("/")
        if span == "*" and not step:
            out.append(part)
            continue
        first, _, last = span.partition("-")
        if first == "*":
            low, high = 0, 6
        else:
            low, high = _day(first), _day(last, end=True) if last else _day(first)
        if low > high:
            raise ValueError(f"{span}: a range must not run backwards past Saturday")
        if step and not (step.isdigit() and int(step) > 0):
            raise ValueError(f"{part}: the step must be a whole number above 0")
        out.extend(_DAYS[d] for d in range(low, high + 1, int(step) if step else 1))
    return ",".join(dict.fromkeys(out))


def _plainly(error: ValueError) -> str:
    """APScheduler's reason, in fewer words ("61 is higher than the maximum 59")."""
    text = str(error)
    if found := re.search(r"value \((\d+)\) is (higher|lower) than the (maximum|minimum) "
                          r"value \((\d+)\)", text):  # fmt: skip
        value, way, bound, limit = found.groups()
        return f"{value} is {way} than the {bound} {limit}"
    if found := re.match(r'Unrecognized expression "(.*)" for field', text):
        return f"{found.group(1)!r} is not understood"
    return text


def cron_trigger(expr: str, timezone: tzinfo) -> CronTrigger:
    """A trigger for a five-field crontab expression; ValueError naming the field and
    the reason if it is not one."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError("expected five fields")
    named = dict(zip(_FIELDS, fields, strict=True))
    for name, value in named.items():
        try:
            if name == "day_of_week":
                value = named[name] = _weekdays(value)
            CronTrigger(**{name: value}, timezone=timezone)
        except ValueError as e:
            raise ValueError(f"{_SAID.get(name, name)}: {_plainly(e)}") from None
    return CronTrigger(**named, timezone=timezone)


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

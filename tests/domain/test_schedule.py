"""Cron as crontab(5) means it: Sunday is 0 and 7, ranges run from Sunday, reasons named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from advisory.domain.schedule import cron_trigger


def fires(expr: str, days: int = 7) -> list[str]:
    """The weekdays the expression fires on in one week from Sunday 29 November 2026."""
    trigger = cron_trigger(expr, UTC)
    start = datetime(2026, 11, 29, tzinfo=UTC) - timedelta(seconds=1)
    out, at = [], start
    while (at := trigger.get_next_fire_time(None, at + timedelta(seconds=1))) < start + timedelta(
        days=days
    ):
        out.append(f"{at:%a}")
    return out


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        ("SUN-TUE", ["Sun", "Mon", "Tue"]),
        ("sun-tue", ["Sun", "Mon", "Tue"]),
        ("0-2", ["Sun", "Mon", "Tue"]),
        ("FRI-SUN", ["Sun", "Fri", "Sat"]),  # through Sunday: Sunday ends the range
        ("5-7", ["Sun", "Fri", "Sat"]),
        ("SAT,SUN", ["Sun", "Sat"]),
        ("7", ["Sun"]),
        ("1", ["Mon"]),
        ("MON-FRI/2", ["Mon", "Wed", "Fri"]),
        ("*/3", ["Sun", "Wed", "Sat"]),
    ],
)
def test_days_of_the_week_as_crontab_means_them(days: str, expected: list[str]) -> None:
    assert fires(f"0 8 * * {days}") == expected


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        ("61 * * * *", "minute: 61 is higher than the maximum 59"),
        ("0 24 * * *", "hour: 24 is higher than the maximum 23"),
        ("0 8 0 * *", "day of month: 0 is lower than the minimum 1"),
        ("0 8 * 13 *", "month: 13 is higher than the maximum 12"),
        ("0 8 * * 8", "day of week: 8 is not a day (0-7, or SUN to SAT)"),
        ("0 8 * * FRI-MON", "day of week: FRI-MON: a range must not run backwards past Saturday"),
        ("x 8 * * *", "minute: 'x' is not understood"),
        ("0 8 * *", "expected five fields"),
    ],
)
def test_a_wrong_expression_says_which_field_and_why(expr: str, reason: str) -> None:
    with pytest.raises(ValueError) as caught:
        cron_trigger(expr, UTC)
    assert str(caught.value) == reason

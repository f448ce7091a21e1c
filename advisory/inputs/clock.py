"""The clock a run goes by: the real one, or the instant `ADVISORY_NOW` names.

A rehearsal (`ADVISORY_NOW=2026-12-03 advisory send --dry-run`: who would be briefed
that day) and the tests set it; time then runs on from that instant, so retries and
rates still see it pass. The core never reads a clock of its own: it is handed this.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Final
from zoneinfo import ZoneInfo

from advisory.errors import ConfigError

__all__ = ["ENV_NOW", "clock_from"]

ENV_NOW: Final = "ADVISORY_NOW"


def clock_from(env: Mapping[str, str], timezone: str = "UTC") -> Callable[[], float]:
    """`time.time`, or a clock that starts at $ADVISORY_NOW: an ISO 8601 date (its noon)
    or date and time, in `timezone` unless it gives an offset. ConfigError if it is not one."""
    said = env.get(ENV_NOW, "").strip()
    if not said:
        return time.time
    try:
        instant = datetime.fromisoformat(said)
        if len(said) <= 10:  # a date alone
            instant = datetime.combine(date.fromisoformat(said), datetime.min.time()).replace(
                hour=12
            )
    except ValueError:
        raise ConfigError(
            f"${ENV_NOW}: not a date or time (ISO 8601, e.g. 2026-12-03 or 2026-12-03T09:00)"
        ) from None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=ZoneInfo(timezone))
    skew = instant.timestamp() - time.time()
    return lambda: time.time() + skew

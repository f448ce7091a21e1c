"""When to try a temporarily failed message again. Pure: time and randomness are passed in."""

from __future__ import annotations

import random
from typing import Final

__all__ = ["next_attempt"]

FIRST: Final = 60.0  # the first retry comes within a minute
CAP: Final = 900.0  # and no retry waits longer than 15 minutes


def next_attempt(
    attempts: int, now: float, created_at: float, give_up_after: float, rng: random.Random
) -> float | None:
    """Time of the next try after `attempts` failures, or None once `give_up_after` has passed.

    Delays double from FIRST, each drawn from its upper half so that many messages
    failing together do not return together.
    """
    ceiling = min(FIRST * 2 ** min(attempts - 1, 16), CAP)
    at = now + rng.uniform(ceiling / 2, ceiling)
    return None if at > created_at + give_up_after else at

"""Whether a fetched advisory is news: the rule that keeps a publisher's noise out.

Publishers' feeds flip between two texts day to day, move dates backwards, publish empty
bodies and duplicate items, and "reissue after review with no edits". A fetched advisory
is news only when its level, its set of risks, or its text differs from every version of
the same advisory seen in the last 30 days. The text is compared after whitespace, case,
punctuation spacing and the publishers' notes ("Reissued …", "There were no changes …")
are normalised away. An empty body, a date moved, a duplicate and an exact reversion to a
recent version are never news, with two exceptions: a version that raises the level
readers hold is told at once, and once the version readers hold has not been published
for 30 days, the one published now replaces it. Pure: the caller keeps what was seen,
and when.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Final

from advisory.domain.models import Advisory
from advisory.publishers.text import NOTE

__all__ = ["EARLIER", "WINDOW", "earlier_print", "fingerprint", "is_news"]

WINDOW: Final = timedelta(days=30)


# A fingerprint kept before regions were read carries this mark (state step 0005): it
# says what the text was, not which regions were read from it.
EARLIER: Final = "bare:"


def fingerprint(advisory: Advisory) -> str:
    """What must differ for an advisory to be news: level, risks, regions and normalised
    text."""
    return _print(advisory, regions=True)


def earlier_print(advisory: Advisory) -> str:
    """The fingerprint a state kept before regions were read has for this version."""
    return EARLIER + _print(advisory, regions=False)


def _print(advisory: Advisory, *, regions: bool) -> str:
    paragraphs = [p for p in advisory.details.split("\n\n") if not NOTE.match(p.strip())]
    text = re.sub(r"\s*([,.;:!?])\s*", r"\1 ", " ".join(" ".join(paragraphs).split()))
    risks = ",".join(r.value for r in advisory.risks)
    content = f"{advisory.country}|{advisory.level.value}|{risks}|{text.casefold().strip()}"
    if regions and advisory.regions:  # without regions, as fingerprints were before them
        content += "|" + "|".join(f"{r.name.casefold()}:{r.level.value}" for r in advisory.regions)
    return hashlib.sha256(content.encode()).hexdigest()[:32]


def is_news(
    advisory: Advisory,
    seen: Mapping[str, float],
    now: float,
    printed: str | None = None,
    current: tuple[str, int] | None = None,
) -> bool:
    """Whether `advisory` tells anything not seen in the `WINDOW` before `now`.

    `seen` maps each fingerprint to when it was last seen (seconds since the epoch);
    `printed` is the advisory's fingerprint, where the caller has it already; `current`
    the fingerprint and level of the version readers were last told of, which is never
    news. A recent version is news again when it raises the level readers hold (a
    re-escalation is told at once), or once the current version has not been published
    for a whole window (the publisher went back for good). A version seen before
    regions were read counts as seen when its text, level and risks are the same: the
    same advice read again is not news for its regions alone.
    """
    printed = printed or fingerprint(advisory)
    earlier = earlier_print(advisory)
    if not advisory.details.strip() or (current is not None and current[0] in (printed, earlier)):
        return False
    if _recent(seen, printed, now) or _recent(seen, earlier, now):
        return current is not None and (
            advisory.level > current[1] or not _recent(seen, current[0], now)
        )
    return True


def _recent(seen: Mapping[str, float], printed: str, now: float) -> bool:
    last = seen.get(printed)
    return last is not None and last >= now - WINDOW.total_seconds()

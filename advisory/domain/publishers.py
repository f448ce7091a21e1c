"""The official publishers we can follow, by the names config, CSV and the state use.

Adding a publisher is one entry here and one reader module in `advisory.publishers`,
named after its kind (`us-state` -> `advisory/publishers/us_state.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["FILES", "PUBLISHERS", "Publisher", "kinds_in_words"]

FILES: Final = "files"  # the service's own advisory files, named beside the publishers


@dataclass(frozen=True, slots=True)
class Publisher:
    kind: str  # "us-state": how config, CSV and the state name it
    label: str  # "US": in subjects and short alerts
    name: str  # "U.S. Department of State": an advisory's source line
    url: str  # where it is read unless `[[sources]] url` says otherwise
    every_country: bool  # "*" may be followed: one document holds them all


PUBLISHERS: Final = {
    p.kind: p
    for p in (
        Publisher("us-state", "US", "U.S. Department of State",
                  "https://travel.state.gov/_res/rss/TAsTWs.xml", every_country=True),
        # The travel-advice index; each country at <url>/<slug>.
        Publisher("gov-uk", "UK", "UK Foreign, Commonwealth & Development Office",
                  "https://www.gov.uk/api/content/foreign-travel-advice", every_country=False),
        # A folder: each country at <url>/cta-cap-<iso2>.json.
        Publisher("canada", "Canada", "Government of Canada",
                  "https://data.international.gc.ca/travel-voyage", every_country=False),
    )
}  # fmt: skip


def kinds_in_words(*extra: str) -> str:
    """ "us-state, gov-uk or canada" (with `extra` names first), for error messages."""
    names = [*extra, *PUBLISHERS]
    return f"{', '.join(names[:-1])} or {names[-1]}"

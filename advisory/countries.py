"""ISO 3166-1 alpha-2 codes and the short English names readers know them by."""

from __future__ import annotations

from functools import cache

import pycountry

__all__ = ["country_name", "is_country"]

# Where the ISO short name reads like an index entry ("Congo, The Democratic
# Republic of the"), a message says what a reader would.
_READABLE = {
    "CD": "Democratic Republic of the Congo",
    "FK": "Falkland Islands",
    "FM": "Micronesia",
    "PS": "Palestine",
    "RU": "Russia",
    "VA": "Vatican City",
    "VG": "British Virgin Islands",
    "VI": "US Virgin Islands",
}


@cache
def _names() -> dict[str, str]:
    return {
        c.alpha_2: _READABLE.get(c.alpha_2) or getattr(c, "common_name", None) or c.name
        for c in pycountry.countries
    }


def is_country(code: str) -> bool:
    return code in _names()


def country_name(code: str) -> str:
    """The readable name of an ISO code; KeyError for anything else."""
    return _names()[code]

"""ISO 3166-1 alpha-2 codes and the short English names readers know them by."""

from __future__ import annotations

import re
from functools import cache

import pycountry

__all__ = ["country_code", "country_name", "is_country"]

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


# The names publishers give places that ISO 3166 names otherwise, lower-cased.
_ALIASES = {
    "bahamas": "BS", "bonaire": "BQ", "saba": "BQ", "sint eustatius": "BQ",
    "bonaire/st eustatius/saba": "BQ", "brunei": "BN", "burma": "MM", "cape verde": "CV",
    "cote d ivoire": "CI", "cote d'ivoire": "CI", "côte d'ivoire": "CI", "ivory coast": "CI",
    "gambia": "GM", "kyrgyz republic": "KG", "macau": "MO", "sint maarten": "SX",
    "mainland china, hong kong & macau": "CN", "timor": "TL", "east timor": "TL",
    "turkey": "TR", "occupied palestinian territories": "PS", "palestinian territories": "PS",
    "republic of the congo": "CG", "congo (republic)": "CG", "north macedonia": "MK",
    "swaziland": "SZ", "czechia": "CZ", "the netherlands": "NL",
}  # fmt: skip


@cache
def _codes() -> dict[str, str]:
    return {name.lower(): code for code, name in _names().items()} | _ALIASES


def country_code(name: str) -> str | None:
    """The ISO code of a country named as publishers name it ("Burma", "The Gambia")."""
    key = " ".join(name.replace("’", "'").split()).lower()
    key = re.sub(r"^the ", "", re.sub(r"^st\.? ", "saint ", key))
    if found := _codes().get(key):
        return found
    try:
        return str(pycountry.countries.lookup(key).alpha_2)
    except LookupError:
        return None


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

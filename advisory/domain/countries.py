"""ISO 3166-1 alpha-2 codes and the short English names readers know them by."""

from __future__ import annotations

import re
import unicodedata
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


# The names publishers give places that ISO 3166 names otherwise (compared as `_key` does).
_ALIASES = {
    "bonaire": "BQ", "saba": "BQ", "sint eustatius": "BQ", "bonaire/st eustatius/saba": "BQ",
    "brunei": "BN", "burma": "MM", "cape verde": "CV", "cote d ivoire": "CI", "ivory coast": "CI",
    "kyrgyz republic": "KG", "macau": "MO", "mainland china, hong kong & macau": "CN",
    "timor": "TL", "east timor": "TL", "turkey": "TR", "occupied palestinian territories": "PS",
    "palestinian territories": "PS", "republic of the congo": "CG", "swaziland": "SZ",
    "saint maarten": "SX", "pitcairn island": "PN", "pitcairn islands": "PN", "usa": "US",
}  # fmt: skip


@cache
def _codes() -> dict[str, str]:
    names = {
        _key(name): c.alpha_2
        for c in pycountry.countries
        for name in (c.name, getattr(c, "common_name", ""), getattr(c, "official_name", ""))
        if name
    }
    aliases = {_key(name): code for name, code in _ALIASES.items()}
    return names | {_key(name): code for code, name in _names().items()} | aliases


def _key(name: str) -> str:
    """A name as compared: no accents, "&" as "and", "St" as "Saint", no leading "The"."""
    plain = unicodedata.normalize("NFKD", name.replace("\u2019", "'").replace("&", " and "))
    key = " ".join("".join(c for c in plain if not unicodedata.combining(c)).split()).lower()
    key = re.sub(r"^the ", "", re.sub(r"^st\.? ", "saint ", key))
    return re.sub(r" \(.*\)$", "", key)  # "Myanmar (Burma)"


def country_code(name: str) -> str | None:
    """The ISO code of a country named as publishers name it ("Burma", "The Gambia")."""
    return _codes().get(_key(name))


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

"""Free text -> a draft advisory: the sentences of an article that are travel advice.

An article about a country mixes politics, military news and, now and then, what a
traveller must know. Only sentences of the kinds below are kept, each for a reason an
analyst can check: advice against travel, arrest or detention of foreigners, kidnapping
of foreigners, warnings about unrest. "A reward for Maduro's arrest" or "the Coast
Guard detained suspects" name an arrest but no foreigner, so they stay out. The level
and risks are only those the kept sentences justify. Pure: text in, draft out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Final

import pycountry

from advisory.domain.models import Level, Risk
from advisory.domain.text import sentences

__all__ = ["Draft", "extract", "sentences"]

_FOREIGNERS: Final = (
    r"(foreign(ers?| nationals?| citizens?| tourists?)|americans?|westerners?|tourists?"
    r"|travell?ers?|visitors?|(dual|u\.?s\.?|british|canadian|eu) (nationals?|citizens?))"
)
# (why it is kept, the risk it shows or None, the pattern), in the order they are tried.
_KINDS: Final = (
    ("advice against travel", None,
     r"\b(advis\w*|warn\w*|urg\w*|recommend\w*)\b[^.]*\b(against|not to)\b[^.]*\btravel"
     r"|\b(do not|don't|reconsider) travel|\bavoid (all|non-essential) travel"
     r"|\b(leave|depart) (the country )?(immediately|now)"),
    ("detention of foreigners", Risk.DETENTION,
     rf"\b(arrest\w*|detain\w*|detention|imprison\w*|jail\w*|held)\b[^.]*\b{_FOREIGNERS}\b"
     rf"|\b{_FOREIGNERS}\b[^.]*\b(arrest\w*|detain\w*|detention|imprison\w*|jail\w*|held)\b"),
    ("kidnapping", Risk.KIDNAPPING,
     rf"\b(kidnap\w*|abduct\w*|hostages?)\b[^.]*\b{_FOREIGNERS}\b"
     rf"|\b{_FOREIGNERS}\b[^.]*\b(kidnap\w*|abduct\w*|hostages?)\b|\brisk of kidnap"),
    ("unrest warning", Risk.UNREST,
     r"\b(avoid|caution|warn\w*|advis\w*)\b[^.]*\b(protests?|demonstrations?|unrest|riots?"
     r"|curfews?)\b"),
)  # fmt: skip


@dataclass
class Draft:
    """What an analyst reviews: the kept sentences, why, and what they justify."""

    country: str | None
    level: Level
    risks: tuple[Risk, ...]
    kept: list[tuple[str, str]] = field(default_factory=list)  # (sentence, why)

    def toml(self, source: str, issued: date) -> str:
        def quoted(text: str) -> str:
            return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

        name = _name(self.country) if self.country else "COUNTRY"
        lines = [
            "# A draft for an analyst to review: nothing here is sent until it is checked and",
            "# saved as a .toml file in the advisories folder. Each kept sentence says why.",
            *(f"#   [{why}] {sentence}" for sentence, why in self.kept),
            "",
            f"country = {quoted(self.country or '??')}",
            f"level = {self.level.value}  # {self.level.label}",
            f"risks = [{', '.join(quoted(r.value) for r in self.risks)}]",
            f"title = {quoted(f'{name}: {self.level.label.lower()}')}",
            f"summary = {quoted(self.kept[0][0] if self.kept else '')}",
            "details = " + quoted("\n\n".join(s for s, _ in self.kept)).replace("\n", "\\n"),
            f"issued = {issued.isoformat()}",
            f"source = {quoted(source)}",
        ]
        return "\n".join(lines) + "\n"


def extract(text: str) -> Draft:
    kept: list[tuple[str, str]] = []
    risks: set[Risk] = set()
    advised_against = False
    for sentence in sentences(text):
        for why, risk, pattern in _KINDS:
            if re.search(pattern, sentence, re.IGNORECASE):
                kept.append((sentence, why))
                if risk is not None:
                    risks.add(risk)
                advised_against |= risk is None
                break
    if advised_against:
        level = Level(4)
    elif risks & {Risk.DETENTION, Risk.KIDNAPPING}:
        level = Level(3)
    else:
        level = Level(2) if risks else Level(1)
    return Draft(_country(text), level, tuple(sorted(risks, key=list(Risk).index)), kept)


def _country(text: str) -> str | None:
    """The country the text names most often (by name or demonym-free name)."""
    counts: dict[str, int] = {}
    for country in pycountry.countries:
        names = {country.name, getattr(country, "common_name", country.name)}
        for name in names:
            n = len(re.findall(rf"\b{re.escape(name)}", text))
            if n:
                counts[country.alpha_2] = counts.get(country.alpha_2, 0) + n
    return max(counts, key=counts.__getitem__) if counts else None


def _name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    return str(getattr(country, "common_name", None) or country.name) if country else code

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
from pathlib import Path
from typing import Final

import pycountry

from advisory.domain.models import Level, Risk
from advisory.domain.text import sentences

__all__ = ["Draft", "extract", "sentences"]

# Who the danger is to: the people a travel advisory is for (and where they stay).
_PEOPLE: Final = (
    r"\b(foreign(ers?| nationals?| citizens?| tourists?| visitors?| workers?| journalists?"
    r"| staff| students?| aid workers?| residents?)|tourists?|visitors?|travell?ers?"
    r"|holidaymakers?|expatriates?|expats?|westerners?|aid workers?|humanitarian (workers?"
    r"|staff|personnel|convoys?|agencies)|(ngo|international|field) (staff|workers?|teams?)"
    r"|(dual|u\.s\.|us|british|canadian|australian|european|eu|french|german|american|western)"
    r" (nationals?|citizens?|passport holders?|tourists?|students?|visitors?)|americans?"
    r"|students?|staff|passengers?|hotels?|resorts?|embass(y|ies)|convoys?|journalists?)\b"
)
# A danger, and the risk it is; the first that matches names the sentence's risk.
_DANGERS: Final = (
    (Risk.KIDNAPPING, r"\b(kidnap\w*|abduct\w*|hostages?|taken captive)\b"),
    (
        Risk.DETENTION,
        r"\b(arrest\w*|detain\w*|detention|imprison\w*|jail\w*|held (in|for|without"
        r"|incommunicado|hostage|captive|at)|interrogat\w*|custody)\b",
    ),
    (
        Risk.TERRORISM,
        r"\b(terror\w*|bomb\w*|explosi\w*|suicide|gunm[ae]n|grenades?|militants?"
        r"|attack\w*|ied)\b",
    ),
    (
        Risk.UNREST,
        r"\b(protests?|protesters?|demonstrat\w*|riot\w*|unrest|clash\w*|curfews?"
        r"|looting|tear gas|roadblocks?|barricades?)\b",
    ),
    (
        Risk.HEALTH,
        r"\b(outbreaks?|cholera|ebola|dengue|malaria|epidemic|measles|mpox|marburg"
        r"|yellow fever|zika|covid|infections?|cases of)\b",
    ),
    (
        Risk.DISASTER,
        r"\b(earthquakes?|floods?|flooding|hurricanes?|cyclones?|typhoons?"
        r"|landslides?|mudslides?|eruptions?|volcan\w*|wildfires?|tsunamis?"
        r"|storms?|avalanches?|aftershocks?)\b",
    ),
    (
        Risk.CRIME,
        r"\b(robb\w*|mugg\w*|theft|thefts|stolen|assault\w*|carjack\w*|pickpocket\w*"
        r"|scams?|burglar\w*|rapes?|crime|criminals?|piracy|pirates|shot|stabbed)\b",
    ),
)
# The words of a danger that happened or threatens (not one that ended or was averted).
_HARM: Final = (
    r"\b(killed|killing|dead|deaths?|died|injur\w*|wounded|violent\w*|violence|attacked"
    r"|targeted|threat\w*|risk\w*|spread\w*|rising|rose|surge\w*|confirmed|reported|struck"
    r"|hit|destroyed|displaced|damaged|blocked|closed|cut off|high|common|frequent\w*"
    r"|ongoing|continu\w*|erupted|declared|warn\w*|may|could|likely|remain\w*)\b"
)
# Not a danger to travellers, whatever its words: business, politics, a danger ended.
_NOT_OURS: Final = (
    r"\b(investors?|shareholders?|markets?|shares|bonds?|stocks?|bookings?|airlines? (added|adds"
    r"|launch\w*)|routes?|budget\w*|parliament|lawmakers|tariffs?|revenue|profits?|scholarships?"
    r"|expense\w*|funding|donors?|vaccination (campaign|drive)|declared (the )?(outbreak )?over"
    r"|ended the|corruption|embezzl\w*|bribe\w*|fraud|tax)\b"
)
# Advice on travel, by the level its words give (the first that matches).
_LEVELS: Final = (
    (
        Level.DO_NOT_TRAVEL,
        r"\b(do not|don[’']t|should not|must not|not to) (travel|go)\b|\bavoid all travel\b"
        r"|\badvis\w* against all travel\b|\badvis\w* against (any )?travel\b"
        r"|\b(leave|depart)\b[^.]{0,40}\b(immediately|now|as soon as|without delay|while)"
        r"|\b(suspend\w*|cancel\w*) all (travel|trips|visits)\b",
    ),
    (
        Level.RECONSIDER,
        r"\breconsider\b[^.]{0,30}\b(travel|trips?|visits?)\b"
        r"|\b(avoid|against|defer|postpone)\b[^.]{0,20}\b(non-?essential|all but essential"
        r"|unnecessary|all non-?essential) (travel|trips?)\b",
    ),
    (
        Level.CAUTION,
        r"\bexercise (a )?high degree of caution\b|\bexercise (increased|heightened|extra"
        r"|greater|enhanced) caution\b",
    ),
    (Level.NORMAL, r"\bexercise normal (security |safety )?precautions\b"),
)
# Safety advice without a level: what a traveller is told to do.
_ADVICE: Final = (
    r"^(avoid|stay|shelter|monitor|keep|remain|carry|register|follow|review|limit|defer"
    r"|postpone|vary|be (vigilant|alert|aware|prepared)|have a|contact|reconsider|leave|do not"
    r"|don[’']t|exercise|seek|check|make sure|ensure|consider|plan|maintain|report)\b"
    r"|\b(should|must|are (advised|urged|encouraged|asked|reminded|required) to|are to|need to)"
    r" (avoid|stay|shelter|monitor|keep|remain|carry|register|follow|review|limit|defer"
    r"|postpone|vary|be|have|contact|reconsider|leave|not|exercise|seek|check|make|ensure"
    r"|consider|maintain|report|travel|move)\b"
)
# Where advice concerns part of a country, and how the text names that part.
_PART: Final = re.compile(
    r"\b(?:travel|go|trips?)\b\s+(?:to\s+|in\s+|within\s+|near\s+)?(?P<place>(?:within \d[\d,.]*"
    r" ?(?:km|kilometres|kilometers|miles)\b.*|the (?:(?:northern|southern|eastern|western"
    r"|north-?\w*|south-?\w*|central|coastal|border) )?(?:states?|provinces?|regions?"
    r"|districts?|departments?|governorates?|areas?|counties|county|municipalit(?:y|ies)|parts?"
    r"|border|zones?|prefectures?|territor(?:y|ies)|islands?)\b.*|(?:northern|southern|eastern"
    r"|western|north-?\w*|south-?\w*|central|coastal|border) \w.*|parts of .*))",
    re.IGNORECASE,
)


@dataclass
class Draft:
    """What an analyst reviews: the kept sentences, why, and what they justify."""

    country: str | None
    level: Level
    risks: tuple[Risk, ...]
    kept: list[tuple[str, str]] = field(default_factory=list)  # (sentence, why)
    regions: list[tuple[str, Level]] = field(default_factory=list)  # (place, level)

    def toml(self, source: str, issued: date) -> str:
        def quoted(text: str) -> str:
            return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

        name = _name(self.country) if self.country else "COUNTRY"
        lines = [
            "# A draft for an analyst to review: nothing here is sent until it is checked and",
            "# saved as a .toml file in the advisories folder. Each kept sentence says why.",
            *(f"#   [{why}] {sentence}" for sentence, why in self.kept),
            *(["# No travel advice found in this text."] if not self.kept else []),
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
        for place, level in self.regions:
            name = place[:1].upper() + place[1:300]
            lines += ["", "[[regions]]", f"name = {quoted(name)}", f"level = {level.value}"]
        return "\n".join(lines) + "\n"


def extract(text: str) -> Draft:
    """The travel-advice sentences of `text`, and the country, level, risks and regions
    they give: the country-wide level from the advice that names no part of the country."""
    kept: list[tuple[str, str]] = []
    risks: set[Risk] = set()
    levels: list[Level] = []
    regions: list[tuple[str, Level]] = []
    for sentence in sentences(text):
        plain = sentence.lstrip("-•*–—· ").strip()
        judged = _judge(plain)
        if judged is None:
            continue
        why, risk, level = judged
        kept.append((plain, why))
        if risk is not None:
            risks.add(risk)
        if level is not None:
            part = _PART.search(plain)
            if part is not None:
                regions.append((part.group("place").rstrip(" .;:!"), level))
            else:
                levels.append(level)
    level = max(levels) if levels else Level.NORMAL
    ordered = tuple(sorted(risks, key=list(Risk).index))
    return Draft(_country(text, [s for s, _ in kept]), level, ordered, kept, regions)


def _judge(sentence: str) -> tuple[str, Risk | None, Level | None] | None:
    """Why a sentence is kept (the risk it shows, the level its advice gives), or None."""
    level = next((lvl for lvl, words in _LEVELS if re.search(words, sentence, re.I)), None)
    if level is None and re.search(_NOT_OURS, sentence, re.I):
        return None
    risk = next((r for r, words in _DANGERS if re.search(words, sentence, re.I)), None)
    if level is not None:
        return f"travel advice: level {level.value}", risk, level
    people = re.search(_PEOPLE, sentence, re.I) is not None
    if re.search(_ADVICE, sentence, re.I) and (people or risk is not None):
        return "safety advice", risk, None
    if risk is None:
        return None
    harm = re.search(_HARM, sentence, re.I) is not None
    told = {
        Risk.KIDNAPPING: people,
        Risk.DETENTION: people,
        Risk.CRIME: people,
        Risk.TERRORISM: people or (harm and re.search(_BOMBS, sentence, re.I) is not None),
        Risk.UNREST: people or (harm and re.search(_VIOLENT, sentence, re.I) is not None),
        Risk.HEALTH: harm,
        Risk.DISASTER: harm,
    }.get(risk, False)
    return (f"danger to travellers: {risk.label.lower()}", risk, None) if told else None


_BOMBS: Final = r"\b(bomb\w*|explosi\w*|suicide|gunm[ae]n|grenades?)\b"
_VIOLENT: Final = (
    r"\b(violent\w*|violence|killed|dead|injur\w*|wounded|tear gas|live (fire|ammunition))\b"
)


def _places() -> dict[str, list[str]]:
    """Country code -> the names the text may give it: pycountry's, and the capitals and
    demonyms of `places.tsv` (data, kept beside this module)."""
    out: dict[str, list[str]] = {}
    for country in pycountry.countries:
        names = {country.name, getattr(country, "common_name", country.name)}
        out[country.alpha_2] = sorted(n for n in names if "," not in n)
    table = Path(__file__).with_name("places.tsv")
    if table.is_file():
        for line in table.read_text(encoding="utf-8").splitlines()[1:]:
            code, capitals, demonyms = [*line.split("\t"), "", ""][:3]
            out.setdefault(code, []).extend(
                n for n in (*capitals.split("|"), *demonyms.split("|")) if n.strip()
            )
    return out


def _country(text: str, kept: list[str]) -> str | None:
    """The country the advice is about: named most often, by name, capital or demonym,
    and above all in the sentences kept."""
    counts: dict[str, float] = {}
    for code, names in _PLACES.items():
        if not names:
            continue
        pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")s?\b")
        n = len(pattern.findall(text)) + 2 * sum(len(pattern.findall(s)) for s in kept)
        if n:
            counts[code] = n
    return max(counts, key=counts.__getitem__) if counts else None


_PLACES: Final = _places()


def _name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    return str(getattr(country, "common_name", None) or country.name) if country else code

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
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Final

import pycountry

from advisory.domain.models import Level, Risk
from advisory.domain.text import sentences

__all__ = ["SENTENCE_MAX", "Draft", "extract", "sentences"]

SENTENCE_MAX: Final = 2000

# Who the danger is to: the people a travel advisory is for (and where they stay).
_PEOPLE: Final = (
    r"\b(foreign(ers?| (?!terror|polic|minist|affair|office|invest|exchange|currenc|debt"
    r"|reserve|compan|firm|bank|power|force|troop|government|relation|trade|direct|aid\b)\w+)"
    r"|tourists?|visitors?|visiting \w+|travell?ers?|holidaymakers?|expatriates?|expats?"
    r"|westerners?|aid workers?|health workers?|humanitarian (workers?|staff|personnel"
    r"|convoys?|agencies)|(ngo|international|field) (staff|workers?|teams?)"
    r"|(dual|u\.s\.|us|british|canadian|australian|european|eu|french|german|american|western)"
    r" (nationals?|citizens?|passport holders?|tourists?|students?|visitors?)|americans?"
    r"|students?|staff|passengers?|hotels?|guesthouses?|resorts?|embass(y|ies)|journalists?"
    r"|researchers?|volunteers?|victims?|contractors?|nationals?|drivers?|trekkers?|hikers?"
    r"|consular|canadians|britons|europeans)\b"
)
# A danger, and the risk it is; the first that matches names the sentence's risk.
_DANGERS: Final = (
    (Risk.KIDNAPPING, r"\b(kidnap\w*|abduct\w*|hostages?|taken captive|ransom|seized)\b"),
    (
        Risk.DETENTION,
        r"\b(arrest\w*|detain\w*|detention|imprison\w*|jail\w*|held (in|for|without"
        r"|incommunicado|hostage|captive|at)|interrogat\w*|custody)\b",
    ),
    (
        Risk.TERRORISM,
        r"\b(terror\w*|bomb\w*|explosi\w*|suicide|gunm[ae]n|grenades?|militants?"
        r"|jihadis\w*|insurgen\w*|attack\w*|ied|fired (on|at)|ambush\w*)\b",
    ),
    (
        Risk.OTHER,
        r"\b(air ?strikes?|strikes? hit|shelling|shells|missiles?|rockets?|drones?"
        r"|landmines?|artillery|fighting|armed (clashes|conflict)|hostilities"
        r"|clashes between|(extremely |very )?(dangerous|unsafe)|armed groups?"
        r"|among (the|those) (dead|killed|injured)|(have|had) died|death toll"
        r"|stranded|missing|road closures?|disruptions?|cancel+ed|delayed"
        r"|suspended (flights|services)|internet|closed to (civilian |all )?traffic"
        r"|airports? (closed|shut)|closed (its|the) runway|runways?)\b",
    ),
    (
        Risk.UNREST,
        r"\b(protests?|protesters?|demonstrat\w*|riot\w*|unrest|clash\w*|curfews?"
        r"|tear gas|roadblocks?|barricades?|state of emergency)\b",
    ),
    (
        Risk.HEALTH,
        r"\b(outbreaks?|cholera|ebola|dengue|malaria|epidemic|measles|mpox|marburg"
        r"|yellow fever|zika|covid|infections?|cases (of|have|were|rose|reported|confirmed))\b",
    ),
    (
        Risk.DISASTER,
        r"\b(earthquakes?|floods?|flooding|floodwaters?|hurricanes?|cyclones?"
        r"|typhoons?|landslides?|mudslides?|eruptions?|volcan\w*|wildfires?"
        r"|tsunamis?|storms?|avalanches?|aftershocks?|heavy rains?|landfall"
        r"|burst (its|their) banks|under water|swept (away|into|off))\b",
    ),
    (
        Risk.CRIME,
        r"\b(robb\w*|mugg\w*|theft|thefts|thie(f|ves)|stolen|assault\w*|carjack\w*"
        r"|pickpocket\w*|scams?|burglar\w*|rapes?|crime|criminals?|piracy|pirates"
        r"|shot|stabbed|looting|looted|gangs?|gunpoint)\b",
    ),
)
# The words of a danger that happened or threatens (not one that ended or was averted).
_HARM: Final = (
    r"\b(killed|killing|dead|deaths?|died|injur\w*|wounded|violent\w*|violence|attacked"
    r"|targeted|threat\w*|risk\w*|spread\w*|rising|risen|rose|rise|surge\w*|increas\w*"
    r"|sharply|confirmed|reported|struck|hit|destroyed|displac\w*|damaged|blocked|closed"
    r"|cut|high|common|frequent\w*|ongoing|continu\w*|erupted|declared|warn\w*|may|could"
    r"|likely|remain\w*|made landfall|winds|burning|burned|intensif\w*|expanded|caused"
    r"|wounding|injuring|forecasts?|further|expected|planned|imposed|stranded|missing"
    r"|issued|recorded|overran|seized)\b"
)
# Not a danger to travellers, whatever its words: business, politics, a danger ended.
_NOT_OURS: Final = (
    r"\b(investors?|shareholders?|markets? (rose|fell|closed)|shares|bonds?|stocks?|bookings?"
    r"|airlines? (added|adds|launch\w*)|budget\w*|parliament|lawmakers|tariffs?|revenue"
    r"|profits?|scholarships?|expense\w*|funding|donors?|vaccination (campaign|drive)"
    r"|declared (the )?(outbreak )?over|ended the|corruption|embezzl\w*|bribe\w*|fraud"
    r"|tax|suspects?)\b"
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
# Safety advice without a level: what a traveller is told to do to stay safe, as an
# alert's "actions to take" (an imperative, after any "If …,"), or told of travellers; not
# the paperwork of a trip (registering it, asking the office, claims).
_ADVICE: Final = (
    r"^(if [^,]{0,120}, )?(avoid|stay|shelter|keep|remain|be (vigilant|alert|aware|prepared)"
    r"|monitor|vary|limit|do not|don[’']t|never|follow|carry|have (a|an|enough)|allow|check"
    r"|contact your (airline|tour)|respect|review your (personal )?security|travel (only|during"
    r"|in)|use (only|licensed|registered|toll|insect)|drink|seek|consider|leave|take|plan"
    r"|wash|boil|wear|protect|cover|sleep under|get vaccinated|bring|pack)\b"
    r"|\b(should|must|are (advised|urged|encouraged|asked|reminded|told) to|need to)"
    r" (?!register|contact|submit|apply|complete|update|inform|notify|email|call|book|claim"
    r"|request|obtain|get approval|seek approval|carry their travel)\w+"
)
_TRAVELLERS: Final = (
    r"\b(travell?ers?|visitors?|tourists?|citizens?|nationals?|foreigners?|residents?"
    r"|passengers?|hikers?|trekkers?|you|(road )?movements?|journeys?|road travel)\b"
)
# Help that is not there: a traveller must know it before going.
_NO_HELP: Final = (
    r"\b(limited|no|cannot|unable to|not able to) (provide |offer |give )?(only )?"
    r"(very )?(limited )?(consular|emergency) (assistance|support|help|access)"
    r"|consular (assistance|access|support)[^.]{0,60}\b(limited|denied|impossible)"
    r"|\b(restricted|prohibited|barred) [^.]{0,60}\b(from|road) travel"
)
_BOMBS: Final = (
    r"\b(bomb\w*|explosi\w*|suicide|gunm[ae]n|grenades?|militants?|jihadis\w*|insurgen\w*"
    r"|armed (group|men)|attackers|fighters|claimed responsibility|threat level)\b"
)
_VIOLENT: Final = (
    r"\b(violent\w*|violence|killed|dead|injur\w*|wounded|tear gas|live (fire|ammunition)"
    r"|state of emergency|mass|large|planned|expected|nationwide|imposed|blockades?|cut"
    r"|closures?|disrupt\w*|stranded)\b"
)
# Where advice concerns part of a country: its object names a part, not the country.
_PART: Final = re.compile(
    r"\b(regions?|provinces?|states|districts?|departments?|areas?|border\w*|parts?|zones?"
    r"|territor(y|ies)|count(y|ies)|municipalit(y|ies)|governorates?|prefectures?|rivers?"
    r"|islands?|km|kilomet(re|er)s?|miles|north\w*|south\w*|east\w*|west\w*|central|coastal"
    r"|cities|city|towns?|capital)\b",
    re.IGNORECASE,
)
# The object of a piece of advice: what follows "travel to", up to where the clause ends.
_OBJECT: Final = re.compile(
    r"^\s*(?:travel|go|trips?|visits?)?\s*(?:to|in|throughout|across)?\s*"
    r"(?P<place>.*?)\s*(?=,? and to |,? but |; |, (?:and |or )?(?:saying|citing|because|due"
    r"|until|unless|as|where|which|including)\b| (?:until|unless|due to|because|owing to"
    r"|following|after|while|except)\b|[.!?]*+$)",
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
            for said, place in _advice(plain):
                if place:
                    regions.append((place, said))
                else:
                    levels.append(said)
    level = max(levels) if levels else Level.NORMAL
    ordered = tuple(sorted(risks, key=list(Risk).index))
    return Draft(_country(text, [s for s, _ in kept]), level, ordered, kept, regions)


def _advice(sentence: str) -> list[tuple[Level, str]]:
    """Each piece of advice in a sentence: its level, and the part of the country it is
    for ("" for the whole of it). "Avoid non-essential travel to Lebanon and all travel
    south of the Litani River" is two: the country at 3, a region at 4."""
    found = sorted(
        (m.start(), m.end(), level)
        for level, words in _LEVELS
        for m in re.finditer(words, sentence, re.IGNORECASE)
    )
    out = []
    for n, (_, end, level) in enumerate(found):
        if n and found[n - 1][1] > end - 1:
            continue  # (a shorter match inside the last one)
        following = found[n + 1][0] if n + 1 < len(found) else len(sentence)
        match = _OBJECT.match(sentence[end:following])
        place = match.group("place").strip(" ,;:") if match else ""
        place = re.sub(r"^(to|in) ", "", place)
        regional = bool(place) and _PART.search(place) is not None and not _is_country(place)
        out.append((level, place if regional else ""))
    return out


def _is_country(place: str) -> bool:
    """Whether a place names a whole country: "South Sudan", "North Korea, calling…",
    "the country"."""
    name = re.sub(r"^the ", "", place, flags=re.IGNORECASE).lower()
    if name.startswith(("country", "whole country")):
        return True
    found = _name_at(_words(name), 0)
    return found is not None and any(weight == 2.0 for _, weight in _OWNERS[found[0]])


def _judge(sentence: str) -> tuple[str, Risk | None, Level | None] | None:
    """Why a sentence is kept (the risk it shows, the level its advice gives), or None.
    A "sentence" of thousands of characters is none: a table, a dump, never advice."""
    if len(sentence) > SENTENCE_MAX:
        return None
    level = next((lvl for lvl, words in _LEVELS if re.search(words, sentence, re.I)), None)
    if level is None and re.search(_NOT_OURS, sentence, re.I):
        return None
    risk = next((r for r, words in _DANGERS if re.search(words, sentence, re.I)), None)
    if level is not None:
        return f"travel advice: level {level.value}", risk, level
    people = re.search(_PEOPLE, sentence, re.I) is not None
    if re.search(_NO_HELP, sentence, re.I):
        return "help is limited", risk, None
    advice = re.search(_ADVICE, sentence, re.I)
    if advice is not None and (advice.start() == 0 or re.search(_TRAVELLERS, sentence, re.I)):
        return "safety advice", risk, None
    harm = re.search(_HARM, sentence, re.I) is not None
    told = {  # whether a danger of each kind is one a traveller's advisory tells
        Risk.KIDNAPPING: people,
        Risk.DETENTION: people,
        Risk.CRIME: people or (harm and re.search(r"\b(loot\w*|gangs?)\b", sentence, re.I)),
        Risk.OTHER: True,
        Risk.TERRORISM: people or (harm and re.search(_BOMBS, sentence, re.I) is not None),
        Risk.UNREST: people or (harm and re.search(_VIOLENT, sentence, re.I) is not None),
        Risk.HEALTH: harm,
        Risk.DISASTER: harm,
    }
    shown = next((r for r, words in _DANGERS if told.get(r) and re.search(words, sentence, re.I)),
                 None)  # fmt: skip
    return (f"danger to travellers: {shown.label.lower()}", shown, None) if shown else None


# The names news gives countries that pycountry's do not ("Korea, Republic of").
_ALSO: Final = {
    "KP": "North Korea", "KR": "South Korea", "CD": "DR Congo|Democratic Republic of the Congo",
    "CG": "Republic of the Congo|Congo-Brazzaville", "RU": "Russia", "IR": "Iran", "SY": "Syria",
    "VE": "Venezuela", "BO": "Bolivia", "TZ": "Tanzania", "VN": "Vietnam", "LA": "Laos",
    "MD": "Moldova", "CI": "Ivory Coast|Côte d'Ivoire", "CZ": "Czech Republic|Czechia",
    "GB": "Britain|Great Britain|United Kingdom", "US": "United States", "TR": "Turkey|Türkiye",
    "MM": "Burma", "MK": "North Macedonia", "PS": "Palestine|Gaza|West Bank", "TW": "Taiwan",
    "FM": "Micronesia", "BN": "Brunei", "CV": "Cape Verde", "SZ": "Swaziland|Eswatini",
}  # fmt: skip


def _plain(word: str) -> str:
    """A name without its accents, as wire copy often has it (San José, San Jose)."""
    return "".join(c for c in unicodedata.normalize("NFD", word) if not unicodedata.combining(c))


def _places() -> dict[str, tuple[set[str], set[str]]]:
    """Country code -> the names the text may give it (pycountry's, and the capitals of
    `places.tsv`, data kept beside this module) and its demonyms, each also unaccented."""
    names: dict[str, set[str]] = {}
    demonyms: dict[str, set[str]] = {}
    for country in pycountry.countries:
        given = {country.name, getattr(country, "common_name", country.name)}
        names[country.alpha_2] = {n for n in given if "," not in n}
    for code, also in _ALSO.items():
        names[code].update(also.split("|"))
    table = Path(__file__).with_name("places.tsv")
    for line in table.read_text(encoding="utf-8").splitlines()[1:]:
        code, capitals, adjectives = [*line.split("\t"), "", ""][:3]
        names.setdefault(code, set()).update(c for c in capitals.split("|") if c.strip())
        demonyms.setdefault(code, set()).update(d for d in adjectives.split("|") if d.strip())
    return {
        code: ({w for n in given for w in (n, _plain(n))},
               {w for d in demonyms.get(code, ()) for w in (d, _plain(d))})
        for code, given in names.items()
    }  # fmt: skip


def _country(text: str, kept: list[str]) -> str | None:
    """The country the advice is about: named most often (a name or capital twice what a
    demonym is), above all in the sentences kept and in a dateline ("CARACAS, March 3").
    Each mention counts for one country, the longest name that fits ("South Sudan")."""
    head = text.lstrip()[:80]
    dateline = head.split(",")[0] if "," in head and head.split(",")[0].isupper() else ""
    counts: dict[str, float] = {}
    for part, times in ((text, 1), *((s, 2) for s in kept), (dateline, 5)):
        for name in _named(part):
            for code, weight in _OWNERS[name]:
                counts[code] = counts.get(code, 0.0) + weight * times
    return max(counts, key=counts.__getitem__) if counts else None


def _named(text: str) -> Iterator[str]:
    """The country names in `text`, in order, each the longest that fits at its place
    ("South Sudan", not "Sudan"): a walk over its words, linear in its length."""
    words = _words(text)
    i = 0
    while i < len(words):
        found = _name_at(words, i)
        if found is None:
            i += 1
        else:
            yield found[0]
            i += found[1]


def _words(text: str) -> list[str]:
    return [w.strip(_EDGES).lower() for w in text.split()]


def _name_at(words: list[str], i: int) -> tuple[str, int] | None:
    """The longest country name (or its plural) that starts at word `i`, and its length."""
    for n in range(min(_LONGEST, len(words) - i), 0, -1):
        phrase = " ".join(words[i : i + n])
        for name in (phrase, phrase[:-1]):
            if name in _OWNERS:
                return name, n
    return None


def _owners() -> dict[str, list[tuple[str, float]]]:
    """Each name (lower-cased) -> the countries it names, a name or capital weighing
    twice what a demonym does."""
    owners: dict[str, list[tuple[str, float]]] = {}
    for code, (names, demonyms) in _PLACES.items():
        for words, weight in ((names, 2.0), (demonyms, 1.0)):
            for word in words:
                owners.setdefault(word.lower(), []).append((code, weight))
    return owners


_PLACES: Final = _places()
_OWNERS: Final = _owners()
_LONGEST: Final = max(len(name.split()) for name in _OWNERS)
_EDGES: Final = ",.;:!?()[]\"“”‘’'«»—–-"


def _name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    return str(getattr(country, "common_name", None) or country.name) if country else code

"""The domain: advisories, levels, risks, subscribers and message formats.

Pure data and validation; no files, clock or network here. The same models
validate advisory files and config, so a mistake is named the same way everywhere.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import IntEnum, StrEnum
from functools import cached_property, lru_cache
from typing import Annotated, Any, Final, Literal, TypeVar

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from advisory.domain.countries import country_name, is_country
from advisory.domain.publishers import FILES, PUBLISHERS, kinds_in_words
from advisory.domain.text import without_internal

__all__ = [
    "ACK_MARK",
    "ADDRESS_MARK",
    "NAME_MARK",
    "TOKEN_MARK",
    "Advisory",
    "CountryCode",
    "CountryOrAll",
    "EmailAddress",
    "Format",
    "Frequency",
    "Letterhead",
    "Level",
    "LevelField",
    "OneLine",
    "Region",
    "Risk",
    "SourceKind",
    "Strict",
    "Subscriber",
    "Trip",
    "address_key",
    "region_name",
    "trusted",
]


class Strict(BaseModel):
    """Base of every file-backed model: exact types, unknown keys refused, immutable."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Level(IntEnum):
    NORMAL = 1
    CAUTION = 2
    RECONSIDER = 3
    DO_NOT_TRAVEL = 4

    @property
    def label(self) -> str:
        return _LEVEL_LABELS[self]

    @property
    def colour(self) -> tuple[str, str]:
        """Banner background and text colour, chosen for contrast."""
        return _LEVEL_COLOURS[self]


_LEVEL_LABELS: Final = {
    Level.NORMAL: "Exercise normal precautions",
    Level.CAUTION: "Exercise increased caution",
    Level.RECONSIDER: "Reconsider travel",
    Level.DO_NOT_TRAVEL: "Do not travel",
}
_LEVEL_COLOURS: Final = {
    Level.NORMAL: ("#1f5fa8", "#ffffff"),
    Level.CAUTION: ("#f2c200", "#1a1a1a"),
    Level.RECONSIDER: ("#b45309", "#ffffff"),
    Level.DO_NOT_TRAVEL: ("#b3121f", "#ffffff"),
}


class Risk(StrEnum):
    """The US State Department's risk indicators, in their order (C T U H N E K D O)."""

    CRIME = "crime"
    TERRORISM = "terrorism"
    UNREST = "unrest"
    HEALTH = "health"
    DISASTER = "disaster"
    EVENT = "event"
    KIDNAPPING = "kidnapping"
    DETENTION = "detention"
    OTHER = "other"

    @property
    def label(self) -> str:
        return _RISK_LABELS[self]

    @property
    def letter(self) -> str:
        return "N" if self is Risk.DISASTER else self.value[0].upper()


_RISK_LABELS: Final = {
    Risk.CRIME: "Crime",
    Risk.TERRORISM: "Terrorism",
    Risk.UNREST: "Civil unrest",
    Risk.HEALTH: "Health",
    Risk.DISASTER: "Natural disaster",
    Risk.EVENT: "Time-limited event",
    Risk.KIDNAPPING: "Kidnapping or hostage-taking",
    Risk.DETENTION: "Arbitrary or wrongful detention",
    Risk.OTHER: "Other",
}
_RISK_ORDER: Final = {risk: i for i, risk in enumerate(Risk)}


class Format(StrEnum):
    HTML = "html"
    TEXT = "text"
    ALERT = "alert"


class Frequency(StrEnum):
    """How often a reader hears: each change at once, or a digest of a day's or a week's."""

    IMMEDIATE = "immediate"
    DAILY = "daily"
    WEEKLY = "weekly"


# Stand-ins for each reader's parts until a message is composed: Unicode noncharacters,
# which every text is stripped of on input (`text.INTERNAL`), so no data can name one.
ADDRESS_MARK: Final = "\ufdd0"
NAME_MARK: Final = "\ufdd1"
TOKEN_MARK: Final = "\ufdd2"  # noqa: S105 -- stands for the reader's token
ACK_MARK: Final = "\ufdd3"  # stands for the token of the reader's acknowledgement link
TOKEN_FIELD: Final = "{token}"  # noqa: S105 -- where the unsubscribe URI in config wants the token


@dataclass(frozen=True, slots=True)
class Letterhead:
    """Who the service writes as, and how a reader stops the messages.

    An `unsubscribe` URI holding `{token}` gets each reader's own token there: an HMAC
    of their address under `secret`, so the endpoint knows who asks and nobody can
    unsubscribe someone else by guessing. With a `page` (the service's own web page,
    `PUBLIC_URL/unsubscribe/{token}`) that page comes first and is one click (RFC 8058).
    """

    address: str
    name: str
    reply_to: str | None = None
    unsubscribe: str | None = None
    secret: bytes | None = field(default=None, repr=False)
    page: str | None = None
    bounce: str | None = None  # the envelope sender; with `{token}`, each reader's own (VERP)
    acks: str | None = None  # the public URL acknowledgement links go to (`[escalation]`)

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2]

    @property
    def unsubscribe_link(self) -> str | None:
        """The URI as templates show it, `TOKEN_MARK` where the reader's token goes."""
        link = self.page or self.unsubscribe
        return link.replace(TOKEN_FIELD, TOKEN_MARK) if link else None

    @property
    def takes_token(self) -> bool:
        """Whether messages carry the reader's token: in a link, or in the envelope."""
        return any(TOKEN_FIELD in (s or "") for s in (self.page, self.unsubscribe, self.bounce))

    def envelope_sender(self, token: str) -> str:
        """Where bounces go: `bounce` (with this reader's token), else the From address."""
        return self.bounce.replace(TOKEN_FIELD, token) if self.bounce else self.address

    @property
    def one_click(self) -> bool:
        """Whether messages say `List-Unsubscribe-Post: List-Unsubscribe=One-Click`."""
        return self.page is not None

    @property
    def list_unsubscribe(self) -> str | None:
        """The `List-Unsubscribe` header's value, `TOKEN_MARK` for the token: the page
        first, then the configured address (RFC 2369 lists them by preference)."""
        links = [link.replace(TOKEN_FIELD, TOKEN_MARK) for link in (self.page, self.unsubscribe)
                 if link]  # fmt: skip
        return ", ".join(f"<{link}>" for link in links) or None

    def token(self, key: str) -> str:
        """The reader's unsubscribe token (22 URL-safe characters), "" if no URI takes one.

        Without a secret (a preview, a dry run) a visible stand-in of the same length.
        """
        if not self.takes_token:
            return ""
        if self.secret is None:
            return "x" * 22
        digest = hmac.digest(self.secret, key.encode(), "sha256")[:16]
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def ack_token(self, key: str, version: str) -> str:
        """The token of a reader's acknowledgement of one advisory version: an HMAC of
        both, so it names them and nobody can make one for another reader or version."""
        if self.secret is None:
            return "x" * 22
        digest = hmac.digest(self.secret, f"ack\n{key}\n{version}".encode(), "sha256")[:16]
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    @property
    def ack_links(self) -> tuple[str, str] | None:
        """The acknowledgement page and its short form (for the 160-character alert),
        `ACK_MARK` where the token goes; None without `[escalation]`."""
        if self.acks is None:
            return None
        return f"{self.acks}/ack/{ACK_MARK}", f"{self.acks}/a/{ACK_MARK}"

    @property
    def contact(self) -> str:
        return self.reply_to or self.address


# --- field types -------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")


def _exact(kind: type, expected: str) -> BeforeValidator:
    """Refuse look-alike types that lax validation would coerce ("4", true)."""

    def check(value: Any) -> Any:
        if (
            not isinstance(value, kind)
            or isinstance(value, bool)
            or (isinstance(value, int) and not -(2**31) < value < 2**31)
        ):
            raise PydanticCustomError("type", "expected {expected}", {"expected": expected})
        return value

    return BeforeValidator(check)


def _clean(value: str) -> str:
    """Plain text only: no control characters, no bidi overrides that reorder what is shown."""
    if value.isprintable():  # (no control, format, private-use, surrogate, unassigned one)
        return unicodedata.normalize("NFC", value)  # (the usual: the rest would change nothing)
    return _clean_in_full(value)


def _clean_in_full(value: str) -> str:
    if _CONTROL.search(value):
        raise PydanticCustomError("text", "contains a control character")
    text = without_internal(unicodedata.normalize("NFC", value).replace("\r\n", "\n"))
    return _BIDI.sub("", text)


def _note(value: str) -> str:
    """A change note: one line as written (a line break is refused, not folded)."""
    if "\n" in value or "\r" in value:
        raise PydanticCustomError("text", "must be one line")
    return " ".join(_clean(value).split())


def _one_line(value: str) -> str:
    value = " ".join(_clean(value).split())
    if not value:
        raise PydanticCustomError("text", "must not be empty")
    return value


def _paragraphs(value: str) -> str:
    """Blank-line separated paragraphs, each folded to one line of words."""
    text = _clean(value)
    paragraphs = (" ".join(p.split()) for p in re.split(r"\n[ \t]*\n", text))
    return "\n\n".join(p for p in paragraphs if p)


def _country(value: str) -> str:
    code = value.strip().upper()
    if not is_country(code):
        raise PydanticCustomError("country", "not an ISO 3166-1 alpha-2 country code")
    return code


def _country_or_all(value: str) -> str:
    return "*" if value.strip() == "*" else _country(value)


def _country_set(codes: tuple[str, ...]) -> tuple[str, ...]:
    """Unique codes in the order given; "*" anywhere means every country."""
    return ("*",) if "*" in codes else tuple(dict.fromkeys(codes))


def _risk_set(risks: tuple[Risk, ...]) -> tuple[Risk, ...]:
    """Risks are a set: unique, in the indicators' canonical order."""
    return tuple(sorted(set(risks), key=_RISK_ORDER.__getitem__))


def _issued(value: Any) -> Any:
    if not isinstance(value, date):
        raise PydanticCustomError("date", "expected a TOML date or date-time, e.g. 2026-11-24")
    return value


def _email(value: str) -> str:
    # A list of a million readers has a handful of domains: the common shape (a plain
    # lowercase dot-atom) has its domain checked once, by email-validator all the same,
    # and its lengths checked as email-validator does; anything else goes through
    # email-validator whole. A property test holds the two paths equal.
    local, at, domain = value.rpartition("@")
    if at and len(local) <= 64 and local == local.lower() and _DOT_ATOM.match(local):
        forms = _domain_forms(domain)
        if forms is not None and all(
            len(local.encode()) + 1 + len(form.encode()) <= 254 for form in (domain, *forms)
        ):
            return f"{local}@{forms[0]}"
    return _email_in_full(value)


_DOT_ATOM: Final = re.compile(
    r"[a-z0-9_!#$%&'*+\-/=?^`{|}~]+(?:\.[a-z0-9_!#$%&'*+\-/=?^`{|}~]+)*\Z"
)


@lru_cache(maxsize=4096)
def _domain_forms(domain: str) -> tuple[str, str] | None:
    """(ASCII, Unicode) forms of a valid domain, as email-validator gives them; else None."""
    try:
        checked = validate_email(f"a@{domain}", check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        return None
    return checked.ascii_domain, checked.domain


def _email_in_full(value: str) -> str:
    try:
        checked = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        raise PydanticCustomError("email", "not a valid email address") from None
    return checked.ascii_email or checked.normalized


def address_key(value: str) -> str:
    """An address as validation keeps it, lower-cased: a reader's one identity (`Subscriber.key`).
    ValueError if it is not a valid address."""
    try:
        if len(value) > 320:
            raise PydanticCustomError("email", "too long")
        return _email(value.strip()).lower()
    except PydanticCustomError:
        raise ValueError("not a valid email address") from None


def _https(value: str) -> str:
    value = without_internal(value)
    if not re.fullmatch(r"https://[^\s<>\"]+", value):
        raise PydanticCustomError("url", "must be an https:// URL")
    return value


OneLine = Annotated[str, Field(max_length=300), AfterValidator(_one_line)]
Paragraphs = Annotated[str, Field(max_length=100_000), AfterValidator(_paragraphs)]
CountryCode = Annotated[str, Field(max_length=8), AfterValidator(_country)]
CountryOrAll = Annotated[str, Field(max_length=8), AfterValidator(_country_or_all)]
EmailAddress = Annotated[str, Field(max_length=320), AfterValidator(_email)]
HttpsUrl = Annotated[str, Field(max_length=2000), AfterValidator(_https)]
LevelField = Annotated[Level, Field(strict=False), _exact(int, "a level from 1 to 4")]
ChangeNote = Annotated[str, Field(max_length=300), AfterValidator(_note)]
RiskField = Annotated[Risk, Field(strict=False), _exact(str, "a risk name")]
FormatField = Annotated[Format, Field(strict=False), _exact(str, '"html", "text" or "alert"')]
FrequencyField = Annotated[
    Frequency, Field(strict=False), _exact(str, '"immediate", "daily" or "weekly"')
]


def _day(value: Any) -> Any:
    if type(value) is not date:
        raise PydanticCustomError("date", "expected a date, e.g. 2026-12-03")
    if not 2000 <= value.year <= 2999:  # a typo, and beyond what a clock can reach
        raise PydanticCustomError("date", "expected a date in the years 2000 to 2999")
    return value


Day = Annotated[date, BeforeValidator(_day)]


def _publisher(value: str) -> str:
    if value and value not in PUBLISHERS:
        raise PydanticCustomError("publisher", f"expected {kinds_in_words()} (or none)")
    return value


def _source_name(value: str) -> str:
    if value != FILES and value not in PUBLISHERS:
        quoted = kinds_in_words(FILES).replace(", ", "', '").replace(" or ", "' or '")
        raise PydanticCustomError("source", f"expected '{quoted}'")
    return value


# Where advisories come from: the service's own files, or an official publisher.
SourceKind = Annotated[str, Field(max_length=32), AfterValidator(_source_name)]


def _folded(value: str) -> str:
    """One line of words, or nothing."""
    return " ".join(_clean(value).split())


def _distinct_regions(regions: tuple[Region, ...]) -> tuple[Region, ...]:
    seen: set[str] = set()
    for region in regions:
        if region.name.casefold() in seen:
            raise PydanticCustomError("regions", "two regions named {name}", {"name": region.name})
        seen.add(region.name.casefold())
    return regions


# --- the models --------------------------------------------------------------


def region_name(text: str) -> str:
    """A region's name as the model keeps it (normalised, folded, at most 300 characters),
    for readers to compare names before they build regions; "" if nothing is left."""
    return " ".join(_BIDI.sub("", without_internal(unicodedata.normalize("NFC", text))).split())[
        :300
    ]


class Region(Strict):
    """Advice for a part of the country, at its own level (higher, usually, than the
    country's: "do not travel to the border areas")."""

    name: OneLine
    level: LevelField
    summary: Annotated[str, Field(max_length=1000), AfterValidator(_folded)] = ""


class Advisory(Strict):
    """One country's advisory, as published; its `version` changes with its content."""

    country: CountryCode
    level: LevelField
    risks: Annotated[
        tuple[RiskField, ...],
        Field(strict=False, max_length=len(Risk)),
        AfterValidator(_risk_set),
    ] = ()
    title: OneLine
    summary: Annotated[str, Field(max_length=1000), AfterValidator(_one_line)]
    details: Paragraphs = ""
    issued: Annotated[datetime | date, BeforeValidator(_issued)]
    source: OneLine
    source_url: HttpsUrl | None = None
    # Which official publisher's view this is ("us-state", "gov-uk", "canada"); empty for
    # the service's own files. The US and the UK view of a country are two advisories.
    publisher: Annotated[str, Field(max_length=32), AfterValidator(_publisher)] = ""
    regions: Annotated[
        tuple[Region, ...], Field(strict=False, max_length=100), AfterValidator(_distinct_regions)
    ] = ()
    # Editorial controls: a "minor" update (a typo, a link) is recorded and alerts nobody
    # who holds an earlier version; a change note says what changed, first. Neither is
    # part of the version: they describe a change, they are not what is advised.
    update: Literal["major", "minor"] = "major"
    change_note: ChangeNote = ""

    @property
    def minor(self) -> bool:
        return self.update == "minor"

    @property
    def highest(self) -> Level:
        """The highest level anywhere in the country: the country's, or a region's."""
        return max((self.level, *(r.level for r in self.regions)))

    @property
    def in_parts(self) -> Level | None:
        """The highest regional level, where it is above the country's; else None."""
        return self.highest if self.highest > self.level else None

    @property
    def rank(self) -> str:
        """'L2', or 'L2 (L4 in parts)' where a region's level is higher."""
        parts = self.in_parts
        return f"L{self.level.value}" + (f" (L{parts.value} in parts)" if parts else "")

    @property
    def key(self) -> str:
        """The advisory's identity: its country, and its publisher if it has one."""
        return f"{self.country}@{self.publisher}" if self.publisher else self.country

    @property
    def source_kind(self) -> str:
        """What a subscriber's `sources` names it by."""
        return self.publisher or FILES

    @property
    def by(self) -> str:
        """The publisher in a word, for subjects and short alerts ("US"); "" for our own."""
        return PUBLISHERS[self.publisher].label if self.publisher else ""

    @property
    def country_name(self) -> str:
        return country_name(self.country)

    @property
    def paragraphs(self) -> list[str]:
        return self.details.split("\n\n") if self.details else []

    @cached_property
    def version(self) -> str:
        """Hash of what a reader is told: level, risks and text (not dates or source)."""
        content = {
            "country": self.country,
            **({"publisher": self.publisher} if self.publisher else {}),
            "level": int(self.level),
            "risks": [r.value for r in self.risks],
            "title": self.title,
            "summary": self.summary,
            "details": self.details,
            # Only where there are regions: the versions of advisories without them (and
            # so what every reader holds) stay as they were before regions existed.
            **({"regions": [[r.name, int(r.level), r.summary] for r in self.regions]}
               if self.regions else {}),
        }  # fmt: skip
        blob = json.dumps(content, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()[:20]


class Trip(Strict):
    """A journey: its country concerns the traveller around these days (`domain.trips`)."""

    country: CountryCode
    start: Day
    end: Day

    @field_validator("end")
    @classmethod
    def _after_start(cls, end: date, info: ValidationInfo) -> date:
        start = info.data.get("start")
        if start is not None and end < start:
            raise PydanticCustomError("trip", "the trip ends before it starts")
        return end


_M = TypeVar("_M", bound=BaseModel)


def trusted(model: type[_M], values: dict[str, Any]) -> _M:
    """A `model` of every one of its fields' values (in the order declared), checked
    before: what `model_construct` makes, without its search of each field for an alias
    or a default (half the cost of a reader read back from a kept list, once a message).
    A test holds the two equal."""
    made = model.__new__(model)
    object.__setattr__(made, "__dict__", values)
    object.__setattr__(made, "__pydantic_fields_set__", set(values))
    object.__setattr__(made, "__pydantic_extra__", None)
    object.__setattr__(made, "__pydantic_private__", None)
    return made


class Subscriber(Strict):
    """A person, the countries they go to, and how they want to hear about them."""

    name: OneLine
    email: EmailAddress
    # May be empty for a traveller: their trips name the countries, each for a while.
    countries: Annotated[
        tuple[CountryOrAll, ...],
        Field(strict=False, max_length=300),
        AfterValidator(_country_set),
    ] = ()
    min_level: LevelField = Level.NORMAL
    format: FormatField = Format.HTML
    # Whose advisories: "files" (the service's own), "us-state", "gov-uk", "canada"; all if empty.
    sources: Annotated[
        tuple[SourceKind, ...], Field(strict=False, max_length=len(PUBLISHERS) + 1)
    ] = ()
    trips: Annotated[tuple[Trip, ...], Field(strict=False, max_length=100)] = ()
    frequency: FrequencyField = Frequency.IMMEDIATE

    def follows(self, advisory: Advisory) -> bool:
        return not self.sources or advisory.source_kind in self.sources

    @property
    def every_country(self) -> bool:
        return self.countries == ("*",)

    @property
    def key(self) -> str:
        """Addresses compare case-insensitively: this is the one identity of a person."""
        return self.email.lower()

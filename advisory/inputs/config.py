"""The config file: pydantic models of every section, and `load()`.

Everything is checked here, before any delivery: types, addresses, country codes,
cron expressions, time zones, paths. Relative paths are resolved against the
config file's folder. The SMTP password comes only from the environment.
"""

from __future__ import annotations

import hashlib
import os
import re
import ssl
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationInfo,
)
from pydantic_core import PydanticCustomError

from advisory.domain.models import (
    TOKEN_FIELD,
    CountryOrAll,
    EmailAddress,
    Letterhead,
    Level,
    LevelField,
    OneLine,
    SourceKind,
    Strict,
    Subscriber,
    address_key,
)
from advisory.domain.publishers import FILES, PUBLISHERS
from advisory.domain.schedule import cron_trigger
from advisory.domain.text import INTERNAL, plural
from advisory.domain.trips import DEFAULT_LEAD, Travel
from advisory.domain.urls import Database, database_url, loopback, secure
from advisory.errors import ConfigError, Problem
from advisory.inputs.problems import read_bytes, read_toml, validate

__all__ = ["DEFAULT_PATH", "Config", "Escalation", "config_path", "in_words", "load", "service_of"]

DEFAULT_PATH = Path("config/advisory.toml")
ENV_VAR = "ADVISORY_CONFIG"
MISSING = (
    f"no config file here; point at one with --config FILE or ${ENV_VAR}, "
    "or write a starter with `advisory init DIR`"
)


def _path(value: Any, info: ValidationInfo) -> Path:
    if type(value) is not str or not value.strip():
        raise PydanticCustomError("path", "expected a path")
    base = (info.context or {}).get("base", Path())
    return (Path(base) / value).resolve()


def _state(value: Any, info: ValidationInfo) -> Path | str:
    """A state file, or a PostgreSQL URL."""
    if isinstance(value, str) and value.startswith(("postgresql:", "postgres:")):
        try:
            return database_url(value)
        except ValueError as e:
            raise PydanticCustomError("state", str(e)) from None
    return _path(value, info)


def _lease(value: Any) -> timedelta:
    """How long a claim on queued messages holds without word from its process."""
    return _duration(value, least=2, most=3600)


def _optional_path(value: Any, info: ValidationInfo) -> Path | None:
    return None if value == "" else _path(value, info)


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise PydanticCustomError("tz", "not a known time zone (e.g. UTC, Europe/Madrid)") from None
    return value


_DURATION = re.compile(r"(\d+)\s*([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(value: Any, least: int = 60, most: int = 30 * 86400) -> timedelta:
    if type(value) is not str:
        raise PydanticCustomError("duration", 'expected a duration such as "90m", "24h" or "2d"')
    parts = _DURATION.findall(value)
    if not parts or _DURATION.sub("", value).strip():
        raise PydanticCustomError("duration", 'expected a duration such as "90m", "24h" or "2d"')
    seconds = sum(int(n) * _UNITS[unit] for n, unit in parts)
    if not least <= seconds <= most:
        raise PydanticCustomError(
            "duration", f"must be between {in_words(least)} and {in_words(most)}"
        )
    return timedelta(seconds=seconds)


def in_words(seconds: int) -> str:
    """A duration as messages say it: "30 minutes", "2 hours", "7 days", "0"."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds and seconds % size == 0:
            return plural(seconds // size, unit)
    return "0"


def _lead(value: Any) -> timedelta:
    """A trip's lead: none at all, up to 90 days (a briefing further ahead is forgotten)."""
    return _duration(value, least=0, most=90 * 86400)


def _unsubscribe(value: str) -> str:
    if INTERNAL.search(value):  # they stand for each reader's parts in a message
        raise PydanticCustomError("uri", "contains private-use or noncharacter code points")
    if re.fullmatch(r"mailto:[^\s<>@]+@[^\s<>@]+", value) or re.fullmatch(
        r"https://[^\s<>\"]+", value
    ):
        return value
    raise PydanticCustomError("uri", "expected a mailto: or https: address")


def _bounce_address(value: str) -> str:
    """An address, where `{token}` may stand for 22 characters of a reader's token."""
    if value.count(TOKEN_FIELD) > 1 or TOKEN_FIELD in value.rpartition("@")[2]:
        raise PydanticCustomError("email", "{token} may stand once, before the @")
    try:
        address_key(value.replace(TOKEN_FIELD, "x" * 22))
    except ValueError:
        raise PydanticCustomError("email", "not a valid email address") from None
    return value


BounceAddress = Annotated[str, Field(max_length=320), AfterValidator(_bounce_address)]


def _domain(value: str) -> str:
    if not re.fullmatch(r"(?=.{1,253}\Z)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}",
                        value.lower()):  # fmt: skip
        raise PydanticCustomError("domain", "expected a domain name, e.g. example.org")
    return value.lower()


def _selector(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?", value):
        raise PydanticCustomError("selector", "expected a DNS label, e.g. advisory2026")
    return value


def _cron(value: str) -> str:
    try:
        cron_trigger(value, ZoneInfo("UTC"))
    except ValueError as e:
        why = "" if str(e) == "expected five fields" else f": {e}"
        raise PydanticCustomError(
            "cron",
            'not a valid cron expression (five fields, e.g. "*/15 * * * *"){why}',
            {"why": why},
        ) from None
    return value


def _env_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise PydanticCustomError(
            "env", "expected the name of an environment variable (letters, digits and _)"
        )
    return value


def _host(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:.]+", value):
        raise PydanticCustomError("host", "expected a host name or an IP address")
    return value


FilePath = Annotated[Path, BeforeValidator(_path)]
OptionalPath = Annotated[Path | None, BeforeValidator(_optional_path)]
Cron = Annotated[str, Field(max_length=200), AfterValidator(_cron)]
EnvName = Annotated[str, Field(max_length=100), AfterValidator(_env_name)]


class Service(Strict):
    # A file (SQLite), or a postgresql:// URL: a state several processes share.
    state: Annotated[Path | str, BeforeValidator(_state)] = Field(
        default="state.sqlite3", validate_default=True
    )
    state_password_env: EnvName = "ADVISORY_STATE_PASSWORD"  # noqa: S105 -- a variable's name
    lease: Annotated[timedelta, BeforeValidator(_lease)] = timedelta(minutes=2)
    advisories: FilePath = Field(default="advisories", validate_default=True)
    timezone: Annotated[str, Field(max_length=64), AfterValidator(_timezone)] = "UTC"
    subscribers_file: OptionalPath = None
    trips_file: OptionalPath = None
    trip_lead: Annotated[timedelta, BeforeValidator(_lead)] = DEFAULT_LEAD


class Sender(Strict):
    address: EmailAddress
    name: OneLine
    reply_to: EmailAddress | None = None
    unsubscribe: Annotated[str, Field(max_length=2000), AfterValidator(_unsubscribe)] | None = None
    # Where an `unsubscribe` URI holding {token} finds the key its tokens are made with.
    token_secret_env: EnvName = "ADVISORY_TOKEN_SECRET"  # noqa: S105 -- a variable's name
    # The envelope sender, where bounces go; `{token}` in it makes each reader's own (VERP).
    bounce_address: (
        Annotated[str, Field(max_length=320), AfterValidator(_bounce_address)] | None
    ) = None


class Dkim(Strict):
    """Sign every message: the signing domain, the selector, and the private key (PEM)."""

    domain: Annotated[str, Field(max_length=253), AfterValidator(_domain)]
    selector: Annotated[str, Field(max_length=63), AfterValidator(_selector)]
    key_file: FilePath


def _after(value: Any) -> timedelta:
    """How long an acknowledgement may take: at least 10 seconds (a trial), at most 7 days."""
    return _duration(value, least=10, most=7 * 86400)


class Escalation(Strict):
    """Duty of care: alerts at or above `min_level` to a traveller ask for an
    acknowledgement; `after` without one, a reminder, and the desk is told."""

    min_level: LevelField = Level.DO_NOT_TRAVEL
    after: Annotated[timedelta, BeforeValidator(_after)] = timedelta(minutes=30)
    desk: EmailAddress
    desk_name: OneLine = "Duty desk"

    @property
    def waits(self) -> str:
        """`after` in words, as the desk's messages say it."""
        return in_words(int(self.after.total_seconds()))


class Bounces(Strict):
    """Where bounce reports are delivered, read at every check."""

    maildir: FilePath


class Delivery(Strict):
    transport: Literal["maildir", "smtp"] = "maildir"
    maildir: FilePath = Field(default="outbox", validate_default=True)
    give_up_after: Annotated[timedelta, BeforeValidator(_duration)] = timedelta(hours=24)
    rate_limit: Annotated[float, Field(ge=0, le=100_000, allow_inf_nan=False)] = 0


class Smtp(Strict):
    host: Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_host)] = "localhost"
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    verify: bool = True
    ca_file: OptionalPath = None
    username: Annotated[str, Field(max_length=320)] = ""
    password_env: EnvName = "ADVISORY_SMTP_PASSWORD"  # noqa: S105 -- a variable's name
    timeout: Annotated[float, Field(gt=0, le=600, allow_inf_nan=False)] = 30
    connections: Annotated[int, Field(ge=1, le=100)] = 4
    # Processes sharing the list and the connections: one per core for large lists.
    processes: Annotated[int, Field(ge=1, le=64)] = 1

    @property
    def loopback(self) -> bool:
        return loopback(self.host.strip("[]"))


class Schedule(Strict):
    check: Cron = "*/15 * * * *"
    digest: Cron | None = None  # a reminder of the advisories standing, for every reader
    daily: Cron = "0 8 * * *"  # the digest of the readers with frequency = "daily"
    weekly: Cron = "0 8 * * MON"  # and of those with "weekly"


def _source_url(value: str) -> str:
    """An https URL (a publisher's, or our own public one); http only to a loopback host."""
    try:
        url = urlsplit(value)
        port_ok = url.port is None or 0 < url.port < 65536
        valid = url.scheme in ("http", "https") and bool(url.hostname) and port_ok
    except ValueError:
        valid = False
    if not valid or re.search(r"[\s\x00-\x1f]", value):
        raise PydanticCustomError("url", "expected an https:// URL")
    if not secure(value):
        raise PydanticCustomError("url", "expected an https:// URL (http only to a loopback host)")
    return value.rstrip("/")


def _listen(value: str) -> str:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise PydanticCustomError("listen", 'expected HOST:PORT, e.g. "127.0.0.1:8080"')
    _host(host.strip("[]"))
    return value


class Http(Strict):
    """The web endpoint `serve` answers on: one-click unsubscribe, health."""

    listen: Annotated[str, Field(max_length=300), AfterValidator(_listen)] = "127.0.0.1:8080"
    # How readers reach the endpoint: https, or http on this machine only (a trial).
    public_url: Annotated[str, Field(max_length=500), AfterValidator(_source_url)]

    @property
    def address(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


class Source(Strict):
    """One place advisories come from, and which of its countries are followed."""

    kind: SourceKind
    countries: Annotated[
        tuple[CountryOrAll, ...], Field(strict=False, min_length=1, max_length=300)
    ] = ("*",)
    url: Annotated[str, Field(max_length=2000), AfterValidator(_source_url)] | None = None
    timeout: Annotated[float, Field(gt=0, le=600, allow_inf_nan=False)] = 30

    @property
    def location(self) -> str:
        return self.url or (PUBLISHERS[self.kind].url if self.kind in PUBLISHERS else "")

    def follows(self, country: str) -> bool:
        return "*" in self.countries or country in self.countries


class Config(Strict):
    """A whole, valid config: what every command starts from."""

    service: Service = Field(default_factory=dict, validate_default=True)
    sender: Sender
    delivery: Delivery = Field(default_factory=dict, validate_default=True)
    smtp: Smtp = Field(default_factory=dict, validate_default=True)
    schedule: Schedule = Field(default_factory=dict, validate_default=True)
    http: Http | None = None
    bounces: Bounces | None = None
    dkim: Dkim | None = None
    escalation: Escalation | None = None
    subscribers: Annotated[tuple[Subscriber, ...], Field(strict=False, max_length=10_000)] = ()
    # None listed: the advisory files alone, as before sources existed.
    sources: Annotated[tuple[Source, ...], Field(strict=False, max_length=4)] = ()

    path: Annotated[Path, Field(exclude=True)] = Path()
    raw: Annotated[bytes, Field(exclude=True)] = b""  # the file as read, secrets excepted
    smtp_password: Annotated[SecretStr | None, Field(exclude=True)] = None
    token_secret: Annotated[SecretStr | None, Field(exclude=True)] = None
    state_password: Annotated[SecretStr | None, Field(exclude=True)] = None

    @property
    def state(self) -> Path | Database:
        """Where the state is: a file, or a PostgreSQL database with its password."""
        where = self.service.state
        if isinstance(where, Path):
            return where
        secret = self.state_password
        return Database(where, secret.get_secret_value() if secret else None)

    @property
    def lists(self) -> Path | None:
        """Where subscriber lists checked are kept for the next run (`read_roster`): beside
        an SQLite state; in this machine's cache for a shared one (None: it has none)."""
        where = self.service.state
        if isinstance(where, Path):
            return where.with_name(f"{where.name}.lists")
        try:
            cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        except RuntimeError:  # (no home to find)
            return None
        tag = hashlib.sha256(f"{self.path.absolute()}\0{where}".encode()).hexdigest()[:16]
        return cache / "advisory" / "lists" / tag

    @property
    def follows_files(self) -> bool:
        return not self.sources or any(s.kind == FILES for s in self.sources)

    @property
    def letterhead(self) -> Letterhead:
        """Who the service writes as, and how a reader stops the messages."""
        s, secret = self.sender, self.token_secret
        key = secret.get_secret_value().encode() if secret else None
        page = f"{self.http.public_url}/unsubscribe/{TOKEN_FIELD}" if self.http else None
        acks = self.http.public_url if self.http and self.escalation else None
        return Letterhead(
            s.address, s.name, s.reply_to, s.unsubscribe, key, page, s.bounce_address, acks
        )

    @property
    def travel(self) -> Travel:
        """When trips concern their travellers: the lead, in the service's timezone."""
        return Travel(self.service.trip_lead, self.service.timezone)

    @property
    def publishers(self) -> tuple[Source, ...]:
        """The official publishers followed, fetched before each check."""
        return tuple(s for s in self.sources if s.kind != FILES)


def config_path(cli_value: str | None, env: Mapping[str, str]) -> Path:
    """--config, else $ADVISORY_CONFIG, else config/advisory.toml."""
    return Path(cli_value or env.get(ENV_VAR) or DEFAULT_PATH)


def load(
    path: Path,
    env: Mapping[str, str] | None = None,
    *,
    delivering: bool = True,
    previewing: bool = False,
    raw: bytes | None = None,
) -> Config:
    """Read and validate the config file; every problem is reported at once.

    `delivering=False` (for `status`) skips what only matters to a delivery: the password.
    `previewing` (check, preview, a dry run): the token secret may be missing; each
    reader's token is then a visible stand-in.
    `raw`: the file's bytes as read before, so another process validates the same config.
    """
    env = os.environ if env is None else env
    if raw is None and not path.exists():
        raise ConfigError(Problem.at(path, "", MISSING))
    raw = read_bytes(path) if raw is None else raw
    data = read_toml(path, raw)
    for private in ("path", "smtp_password", "token_secret", "state_password", "raw"):
        if private in data:
            raise ConfigError(Problem.at(path, private, "unknown field"))
    config = validate(Config, data, path, base=path.parent.resolve())
    problems = [
        *_dkim_problems(config, path),
        *_escalation_problems(config, path),
        *_duplicates(config, path),
        *_source_problems(config, path),
        *_smtp_problems(config, path, env, delivering),
        *_token_problems(config, path, env, delivering and not previewing),
    ]
    if problems:
        raise ConfigError(problems)
    return _with_secrets(config.model_copy(update={"path": path, "raw": raw}), env)


def service_of(path: Path) -> Service | None:
    """The `[service]` table alone, if it is valid: where the other files are, for
    telling their problems together with the config's own."""
    try:
        data = read_toml(path)
        table = data.get("service", {})
        return validate(Service, table if isinstance(table, dict) else {}, path,
                        base=path.parent.resolve())  # fmt: skip
    except ConfigError:
        return None


def _with_secrets(config: Config, env: Mapping[str, str]) -> Config:
    """The config with its secrets, read from the variables it names (never from a file)."""
    password = env.get(config.smtp.password_env) if config.smtp.username else None
    secret = env.get(config.sender.token_secret_env)
    on_server = isinstance(config.service.state, str)
    state = env.get(config.service.state_password_env) if on_server else None
    return config.model_copy(
        update={
            "smtp_password": SecretStr(password) if password else None,
            "state_password": SecretStr(state) if state else None,
            "token_secret": SecretStr(secret) if secret and _takes_token(config) else None,
        }
    )


def _takes_token(config: Config) -> bool:
    return config.letterhead.takes_token


def _token_problems(
    config: Config, path: Path, env: Mapping[str, str], delivering: bool
) -> list[Problem]:
    name = config.sender.token_secret_env
    secret = env.get(name)
    if not _takes_token(config) or (not delivering and not secret):
        return []
    if not secret:
        return [
            Problem.at(path, "sender.token_secret_env", f"environment variable {name} is not set")
        ]
    if len(secret) < 16:
        return [
            Problem.at(
                path,
                "sender.token_secret_env",
                f"environment variable {name} holds under 16 characters",
            )
        ]
    return []


def _dkim_problems(config: Config, path: Path) -> list[Problem]:
    """DMARC passes only on a signature of the From domain or a domain it is under."""
    if config.dkim is None:
        return []
    sender = config.sender.address.rpartition("@")[2].lower()
    if sender != config.dkim.domain and not sender.endswith("." + config.dkim.domain):
        return [Problem.at(path, "dkim.domain", f"must be {sender} or a domain it is under")]
    return []


def _escalation_problems(config: Config, path: Path) -> list[Problem]:
    """Acknowledgements are asked of travellers, on the web endpoint's pages."""
    if config.escalation is None:
        return []
    if config.http is None:
        return [Problem.at(path, "escalation", "needs [http]: acknowledgements are made there")]
    if config.service.trips_file is None and not any(s.trips for s in config.subscribers):
        return [
            Problem.at(path, "escalation", "no trips anywhere: acknowledgements are asked of "
                       "travellers (subscribers' trips, or service.trips_file)")
        ]  # fmt: skip
    return []


def _duplicates(config: Config, path: Path) -> list[Problem]:
    seen: dict[str, int] = {}
    out = []
    for i, sub in enumerate(config.subscribers):
        if sub.key in seen:
            out.append(
                Problem.at(
                    path, f"subscribers[{i}].email", f"same address as subscribers[{seen[sub.key]}]"
                )
            )
        seen.setdefault(sub.key, i)
        if not sub.countries and not sub.trips and config.service.trips_file is None:
            out.append(Problem.at(path, f"subscribers[{i}].countries", NOTHING))
        for n, trip in enumerate(sub.trips):
            if why := config.travel.too_long(trip):
                out.append(Problem.at(path, f"subscribers[{i}].trips[{n}].end", why))
    return out


NOTHING = "empty, and no trips: list a country or a trip"


def _source_problems(config: Config, path: Path) -> list[Problem]:
    out = []
    seen: set[str] = set()
    for i, source in enumerate(config.sources):
        if source.kind in seen:
            out.append(Problem.at(path, f"sources[{i}].kind", f"{source.kind} is listed twice"))
        seen.add(source.kind)
        publisher = PUBLISHERS.get(source.kind)
        if publisher and not publisher.every_country and "*" in source.countries:
            # One request per country: following all of them is a choice to spell out.
            out.append(
                Problem.at(
                    path,
                    f"sources[{i}].countries",
                    f'list the countries; "*" is only for {_every_country()}',
                )
            )
        if source.kind == FILES and source.url is not None:
            out.append(
                Problem.at(path, f"sources[{i}].url", "files are read from service.advisories")
            )
    return out


def _smtp_problems(
    config: Config, path: Path, env: Mapping[str, str], delivering: bool
) -> list[Problem]:
    smtp = config.smtp
    if config.delivery.transport != "smtp":
        return []
    out = []
    if smtp.username and smtp.security == "none" and not smtp.loopback:
        out.append(
            Problem.at(
                path,
                "smtp.username",
                'login without TLS (security = "none") only to a loopback host',
            )
        )
    if delivering and smtp.username and not env.get(smtp.password_env):
        out.append(
            Problem.at(
                path, "smtp.password_env", f"environment variable {smtp.password_env} is not set"
            )
        )
    if smtp.processes > smtp.connections:
        out.append(Problem.at(path, "smtp.processes", "more processes than connections"))
    if smtp.ca_file is not None:
        try:
            ssl.create_default_context(cafile=str(smtp.ca_file))
        except FileNotFoundError:
            out.append(Problem.at(path, "smtp.ca_file", "file not found"))
        except (ssl.SSLError, OSError, ValueError):
            out.append(Problem.at(path, "smtp.ca_file", "not a PEM file of CA certificates"))
    return out


def _every_country() -> str:
    names = [k for k, p in PUBLISHERS.items() if p.every_country]
    return " and ".join([", ".join(names), FILES])

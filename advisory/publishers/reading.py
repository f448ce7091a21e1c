"""What a publisher's reader works with: the round it fills, the conditional `get` it
fetches through, and the steps every reader shares (keep what was read, read a JSON
document, read one country's page, go through the countries a few at a time)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

from advisory.domain.models import Advisory
from advisory.errors import SourceError, UnreadableError
from advisory.inputs.config import Source
from advisory.publishers.http import Fetched
from advisory.publishers.noise import fingerprint
from advisory.state.base import Document

__all__ = ["Get", "Reader", "Round", "document", "each", "each_error", "keep", "page"]

AT_ONCE: Final = 4  # documents fetched at once from one publisher


@dataclass(slots=True)
class Round:
    """What one source's fetch gave: advisories read, documents to remember, errors."""

    kind: str
    advisories: dict[str, tuple[Advisory, str]] = field(default_factory=dict)  # key -> (…, print)
    unchanged: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (print, url)
    documents: dict[str, Document] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # the keys that were news
    answered: int = 0  # documents the publisher sent, or said were unchanged

    def said(self) -> Iterator[tuple[str, str]]:
        """(event, line) for what an operator should hear: news found, and each failure."""
        if self.changed:
            more = f" and {len(self.changed) - 10} more" if len(self.changed) > 10 else ""
            yield "news", f"{self.kind}: news for {', '.join(self.changed[:10])}{more}"
        for error in self.errors:
            yield "source", f"{self.kind}: {error}"

    def read(self, advisories: list[Advisory]) -> dict[str, str]:
        """Keep what a document gave (its first item per country); key -> fingerprint."""
        printed = {}
        for advisory in advisories:
            if advisory.key not in printed:
                printed[advisory.key] = fingerprint(advisory)
                self.advisories.setdefault(advisory.key, (advisory, printed[advisory.key]))
        return printed


Get = Callable[[str, str], Awaitable[tuple[Fetched, dict[str, Any]]]]

Reader = Callable[[Source, Get, Round], Awaitable[None]]


@contextmanager
def each_error(where: str, found: Round) -> Iterator[None]:
    """A failure is a line against the source: what the internet sends never stops a check."""
    try:
        yield
    except SourceError as e:
        found.errors.append(str(e))
    except Exception as e:  # a shape never seen: deep nesting, an unknown encoding…
        found.errors.append(f"{where}: unreadable ({type(e).__name__})")


def keep(found: Round, url: str, fetched: Fetched, scope: str, **memo: Any) -> None:
    """Validators are kept only with what was read, so a 304 never hides an unread copy."""
    found.documents[url] = Document(
        fetched.validators.etag,
        fetched.validators.last_modified,
        json.dumps({"scope": scope, **memo}, separators=(",", ":")),
    )


def document(url: str, body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise UnreadableError(f"{url}: not JSON") from None
    if not isinstance(data, dict):
        raise UnreadableError(f"{url}: not a travel-advice document")
    return data


async def page(
    get: Get,
    found: Round,
    url: str,
    country: str,
    read: Callable[[dict[str, Any]], Advisory | None],
) -> None:
    """One country's page (GOV.UK, Canada): read when it changed, kept once read."""
    fetched, _ = await get(url, country)
    if fetched.body is not None:
        advisory = read(document(url, fetched.body))
        if advisory is None or advisory.country != country:
            raise UnreadableError(f"{url}: no current advice for {country} in it (withdrawn?)")
        keep(found, url, fetched, country, seen=found.read([advisory]))


async def each(source: Source, one: Callable[[str], Awaitable[None]]) -> None:
    """Every country's document, a few at a time; each country's failure is its own."""
    gate = asyncio.Semaphore(AT_ONCE)

    async def gated(country: str) -> None:
        async with gate:
            await one(country)

    await asyncio.gather(*(gated(c) for c in source.countries))

"""Following the official publishers: fetch, read, keep what is news, know what is current.

Before each check every publisher in `[[sources]]` is fetched at once, each document
with the validators it last gave (an unchanged one costs a 304). Each fetched advisory
is passed through the noise rule (`news.is_news`); only news becomes the effective
version that runs plan from, so a publisher's flip-flops, empty bodies and reissues
never reach a reader. A failure is one line against its source: the other sources,
and the delivery of what is already known, go on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from advisory.config import Config, Source
from advisory.errors import AdvisoryError
from advisory.fetch import Fetched, FetchError, Validators, client, fetch
from advisory.ledger import Document, Ledger
from advisory.models import Advisory
from advisory.news import WINDOW, fingerprint, is_news
from advisory.publishers import canada_advisory, gov_uk_advisory, gov_uk_slugs, us_state_advisories
from advisory.sources import load_advisories

__all__ = ["Round", "known", "refresh"]

_AT_ONCE = 4  # documents fetched at once from one publisher


@dataclass(slots=True)
class Round:
    """What one source's fetch gave: advisories read, documents to remember, errors."""

    kind: str
    advisories: list[Advisory] = field(default_factory=list)
    documents: dict[str, Document] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # the keys that were news

    def said(self) -> Iterator[tuple[str, str]]:
        """(event, line) for what an operator should hear: news found, and each failure."""
        if self.changed:
            more = f" and {len(self.changed) - 10} more" if len(self.changed) > 10 else ""
            yield "news", f"{self.kind}: news for {', '.join(self.changed[:10])}{more}"
        for error in self.errors:
            yield "source", f"{self.kind}: {error}"


def known(config: Config, ledger: Ledger) -> list[Advisory]:
    """What a run plans from: the advisory files, and each followed publisher's current view."""
    advisories = load_advisories(config.service.advisories) if config.follows_files else []
    sources = {s.kind: s for s in config.publishers}
    return advisories + [
        a
        for a in ledger.followed()
        if a.publisher in sources and sources[a.publisher].follows(a.country)
    ]


async def refresh(config: Config, ledger: Ledger, now: float) -> list[Round]:
    """Fetch every publisher followed and keep what is news; the caller holds the run lock."""
    rounds = await asyncio.gather(*(_fetch(source, ledger) for source in config.publishers))
    with ledger.transaction():
        ledger.forget_sightings(now - WINDOW.total_seconds())
        for found in rounds:
            for advisory in found.advisories:
                printed = fingerprint(advisory)
                news = is_news(advisory, ledger.sightings(advisory.key), now, printed)
                ledger.saw(advisory, printed, now, news=news)
                if news:
                    found.changed.append(advisory.key)
            for url, document in found.documents.items():
                ledger.keep_document(url, document)
            ledger.fetched(found.kind, now, changed=found.changed, errors=found.errors)
    return rounds


async def _fetch(source: Source, ledger: Ledger) -> Round:
    found = Round(source.kind)
    reader = _READERS[source.kind]
    async with client(source.timeout) as http:

        async def get(url: str) -> tuple[Fetched, Document]:
            before = ledger.document(url)
            since = (
                Validators(before.etag, before.last_modified)
                if before.memo is not None
                else Validators()
            )
            return await fetch(http, url, since), before

        with _each_error(source, found):
            await reader(source, get, found)
    return found


@contextmanager
def _each_error(source: Source, found: Round) -> Iterator[None]:
    """A failure is a line against the source; data from the internet never stops a check."""
    try:
        yield
    except (FetchError, _Unreadable) as e:
        found.errors.append(str(e))
    except (ValueError, TypeError, KeyError, AttributeError) as e:  # a shape never seen
        found.errors.append(f"{source.location}: unreadable ({type(e).__name__})")


class _Unreadable(AdvisoryError):
    """A document came, but not in the shape its publisher uses."""


Get = Callable[[str], Awaitable[tuple[Fetched, Document]]]


def _json(url: str, body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _Unreadable(f"{url}: not JSON") from None
    if not isinstance(data, dict):
        raise _Unreadable(f"{url}: not a travel-advice document")
    return data


def _kept(fetched: Fetched, memo: str) -> Document:
    """Validators are kept only with what was read, so a 304 never hides an unread copy."""
    return Document(fetched.validators.etag, fetched.validators.last_modified, memo)


async def _us_state(source: Source, get: Get, found: Round) -> None:
    url = source.location
    fetched, _ = await get(url)
    if fetched.body is None:
        return
    try:
        advisories = us_state_advisories(fetched.body)
    except ValueError as e:
        raise _Unreadable(f"{url}: {e}") from None
    # The feed's first item for a country: the feed repeats some items, identical.
    first: dict[str, Advisory] = {}
    for advisory in advisories:
        if source.follows(advisory.country):
            first.setdefault(advisory.key, advisory)
    found.advisories = list(first.values())
    found.documents[url] = _kept(fetched, "")


async def _gov_uk(source: Source, get: Get, found: Round) -> None:
    index = source.location
    fetched, before = await get(index)
    if fetched.body is None:
        slugs = json.loads(before.memo or "{}")
    else:
        slugs = gov_uk_slugs(_json(index, fetched.body))
    found.documents[index] = _kept(fetched, json.dumps(slugs))

    async def one(country: str) -> None:
        if country not in slugs:
            raise _Unreadable(f"{index}: no GOV.UK travel advice for {country}")
        url = f"{index}/{slugs[country]}"
        fetched, _ = await get(url)
        if fetched.body is not None:
            advisory = gov_uk_advisory(_json(url, fetched.body))
            if advisory is None or advisory.country != country:
                raise _Unreadable(f"{url}: no current advice for {country} (withdrawn?)")
            found.advisories.append(advisory)
            found.documents[url] = _kept(fetched, "")

    await _each(source, one, found)


async def _canada(source: Source, get: Get, found: Round) -> None:
    async def one(country: str) -> None:
        url = f"{source.location}/cta-cap-{country.lower()}.json"
        fetched, _ = await get(url)
        if fetched.body is not None:
            advisory = canada_advisory(_json(url, fetched.body))
            if advisory is None or advisory.country != country:
                raise _Unreadable(f"{url}: no advisory for {country} in it")
            found.advisories.append(advisory)
            found.documents[url] = _kept(fetched, "")

    await _each(source, one, found)


async def _each(source: Source, one: Callable[[str], Awaitable[None]], found: Round) -> None:
    """Every country's document, a few at a time; one country's failure is its own."""
    gate = asyncio.Semaphore(_AT_ONCE)

    async def guarded(country: str) -> None:
        async with gate:
            with _each_error(source, found):
                await one(country)

    await asyncio.gather(*(guarded(c) for c in source.countries))


_READERS: dict[str, Callable[[Source, Get, Round], Awaitable[None]]] = {
    "us-state": _us_state,
    "gov-uk": _gov_uk,
    "canada": _canada,
}

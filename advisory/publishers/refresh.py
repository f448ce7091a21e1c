"""Following the official publishers: fetch, read, keep what is news, know what is current.

Before each check every publisher in `[[sources]]` is fetched at once, each document
with the validators it last gave (an unchanged one costs a 304). Each fetched advisory
is passed through the noise rule (`news.is_news`); only news becomes the effective
version that runs plan from, so a publisher's flip-flops, empty bodies and reissues
never reach a reader. A failure is one line against its source, whatever the
publisher sent: the other sources, and the delivery of what is already known, go on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from advisory.domain.models import Advisory
from advisory.errors import AdvisoryError
from advisory.inputs.config import Config, Source
from advisory.publishers.http import Fetched, FetchError, Validators, client, fetch
from advisory.publishers.noise import WINDOW, fingerprint, is_news
from advisory.publishers.text import (
    canada_advisory,
    gov_uk_advisory,
    gov_uk_slugs,
    us_state_advisories,
)
from advisory.state.sqlite import Document, Ledger

__all__ = ["Round", "refresh"]

_AT_ONCE = 4  # documents fetched at once from one publisher


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


async def refresh(config: Config, ledger: Ledger, now: float) -> list[Round]:
    """Fetch every publisher followed and keep what is news; the caller holds the run lock."""
    rounds = await asyncio.gather(*(_fetch(source, ledger) for source in config.publishers))
    with ledger.transaction():
        ledger.forget_sightings(now - WINDOW.total_seconds())
        current = ledger.current_prints()
        for found in rounds:
            published = list(found.advisories.items())
            for key, (printed, url) in found.unchanged.items():  # still published: a 304
                if printed == current.get(key, ("", 0))[0]:
                    ledger.sighted(key, printed, now)  # the current version: nothing to judge
                elif (advisory := ledger.sighting(key, printed)) is not None:
                    published.append((key, (advisory, printed)))
                else:  # a version long unseen, unkept: read the document in full next time
                    ledger.keep_document(url, Document())
            for key, (advisory, printed) in published:
                seen = ledger.sightings(key)
                if is_news(advisory, seen, now, printed, current.get(key)):
                    ledger.follow(advisory, printed, now)
                    found.changed.append(key)
                ledger.sighted(key, printed, now, advisory)
            for url, document in found.documents.items():
                ledger.keep_document(url, document)
            ledger.fetched(
                found.kind, now, answered=found.answered > 0, changed=found.changed,
                errors=found.errors,
            )  # fmt: skip
    return rounds


class _Unreadable(AdvisoryError):
    """A document came, but not in the shape its publisher uses."""


@contextmanager
def _each_error(where: str, found: Round) -> Iterator[None]:
    """A failure is a line against the source: what the internet sends never stops a check."""
    try:
        yield
    except (FetchError, _Unreadable) as e:
        found.errors.append(str(e))
    except Exception as e:  # a shape never seen: deep nesting, an unknown encoding…
        found.errors.append(f"{where}: unreadable ({type(e).__name__})")


Get = Callable[[str, str], Awaitable[tuple[Fetched, dict[str, Any]]]]


async def _fetch(source: Source, ledger: Ledger) -> Round:
    found = Round(source.kind)
    local = httpx.URL(source.location).scheme == "http"  # a mirror on this machine
    async with client(source.timeout, local=local) as http:

        async def get(url: str, scope: str) -> tuple[Fetched, dict[str, Any]]:
            """The document, asked for conditionally only if what was read of it last
            time covers `scope` (the countries followed); (fetched, what was read)."""
            before = ledger.document(url)
            memo = json.loads(before.memo) if before.memo else {}
            usable = bool(memo) and memo.get("scope") == scope
            since = Validators(before.etag, before.last_modified) if usable else Validators()
            fetched = await fetch(http, url, since, deadline=source.timeout)
            found.answered += 1
            if fetched.body is None:
                if not usable:
                    raise _Unreadable(f"{url}: HTTP 304 to a request that was not conditional")
                found.unchanged.update((k, (p, url)) for k, p in memo.get("seen", {}).items())
            return fetched, memo

        with _each_error(source.location, found):
            await _READERS[source.kind](source, get, found)
    return found


def _keep(found: Round, url: str, fetched: Fetched, scope: str, **memo: Any) -> None:
    """Validators are kept only with what was read, so a 304 never hides an unread copy."""
    found.documents[url] = Document(
        fetched.validators.etag,
        fetched.validators.last_modified,
        json.dumps({"scope": scope, **memo}, separators=(",", ":")),
    )


def _json(url: str, body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _Unreadable(f"{url}: not JSON") from None
    if not isinstance(data, dict):
        raise _Unreadable(f"{url}: not a travel-advice document")
    return data


async def _us_state(source: Source, get: Get, found: Round) -> None:
    url, scope = source.location, " ".join(sorted(source.countries))
    fetched, _ = await get(url, scope)
    if fetched.body is None:
        return
    refused: list[tuple[str, str]] = []
    try:
        advisories = us_state_advisories(fetched.body, refused)
    except ValueError as e:
        raise _Unreadable(f"{url}: {e}") from None
    printed = found.read([a for a in advisories if source.follows(a.country)])
    errors = [f"{url}: {country}: {why}" for country, why in refused if source.follows(country)]
    found.errors += errors
    if not errors:  # else read it all again next time, until the item can be read
        _keep(found, url, fetched, scope, seen=printed)


async def _gov_uk(source: Source, get: Get, found: Round) -> None:
    index = source.location
    fetched, memo = await get(index, "index")
    if fetched.body is None:
        children = memo.get("children", [])
    else:  # the countries' names and slugs are all a 304 will need
        listed = (_json(index, fetched.body).get("links") or {}).get("children") or []
        children = [{"details": {"country": c["details"]["country"]}} for c in listed]
        _keep(found, index, fetched, "index", children=children)
    slugs = gov_uk_slugs({"links": {"children": children}})

    async def one(country: str) -> None:
        url = f"{index}/{slugs.get(country, country)}"
        with _each_error(url, found):
            if country not in slugs:
                raise _Unreadable(f"{index}: no GOV.UK travel advice for {country}")
            await _page(get, found, url, country, gov_uk_advisory)

    await _each(source, one)


async def _canada(source: Source, get: Get, found: Round) -> None:
    async def one(country: str) -> None:
        url = f"{source.location}/cta-cap-{country.lower()}.json"
        with _each_error(url, found):
            await _page(get, found, url, country, canada_advisory)

    await _each(source, one)


async def _page(
    get: Get,
    found: Round,
    url: str,
    country: str,
    read: Callable[[dict[str, Any]], Advisory | None],
) -> None:
    """One country's page (GOV.UK, Canada): read when it changed, kept once read."""
    fetched, _ = await get(url, country)
    if fetched.body is not None:
        advisory = read(_json(url, fetched.body))
        if advisory is None or advisory.country != country:
            raise _Unreadable(f"{url}: no current advice for {country} in it (withdrawn?)")
        _keep(found, url, fetched, country, seen=found.read([advisory]))


async def _each(source: Source, one: Callable[[str], Awaitable[None]]) -> None:
    """Every country's document, a few at a time; each country's failure is its own."""
    gate = asyncio.Semaphore(_AT_ONCE)

    async def gated(country: str) -> None:
        async with gate:
            await one(country)

    await asyncio.gather(*(gated(c) for c in source.countries))


_READERS: dict[str, Callable[[Source, Get, Round], Awaitable[None]]] = {
    "us-state": _us_state,
    "gov-uk": _gov_uk,
    "canada": _canada,
}

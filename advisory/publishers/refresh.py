"""Following the official publishers: fetch, read, keep what is news, know what is current.

Before each check every publisher in `[[sources]]` is fetched at once, each document
with the validators it last gave (an unchanged one costs a 304). Each fetched advisory
is passed through the noise rule (`noise.is_news`); only news becomes the effective
version that runs plan from, so a publisher's flip-flops, empty bodies and reissues
never reach a reader. A failure is one line against its source, whatever the
publisher sent: the other sources, and the delivery of what is already known, go on.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from advisory.domain.models import Advisory
from advisory.errors import UnreadableError
from advisory.inputs.config import Config, Source
from advisory.publishers import reader
from advisory.publishers.http import Fetched, Validators, client, fetch
from advisory.publishers.noise import WINDOW, earlier_print, is_news
from advisory.publishers.reading import Round, each_error
from advisory.state import Store
from advisory.state.base import Document

__all__ = ["Round", "refresh"]


async def refresh(config: Config, store: Store, now: float) -> list[Round]:
    """Fetch every publisher followed and keep what is news; the caller holds the run lock."""
    rounds = await asyncio.gather(*(_fetch(source, store) for source in config.publishers))
    with store.transaction():
        store.publishers.forget_sightings(now - WINDOW.total_seconds())
        current = store.publishers.current_prints()
        followed = {a.key: a for a in store.publishers.followed()}
        for found in rounds:
            published = list(found.advisories.items())
            for key, (printed, url) in found.unchanged.items():  # still published: a 304
                if printed == current.get(key, ("", 0))[0]:
                    store.publishers.sighted(
                        key, printed, now
                    )  # the current version: nothing to judge
                elif (advisory := store.publishers.sighting(key, printed)) is not None:
                    published.append((key, (advisory, printed)))
                else:  # a version long unseen, unkept: read the document in full next time
                    store.publishers.keep_document(url, Document())
            for key, (advisory, printed) in published:
                seen = store.publishers.sightings(key)
                if is_news(advisory, seen, now, printed, current.get(key)):
                    if _republished(advisory, followed.get(key)):
                        advisory = advisory.model_copy(update={"update": "minor"})
                    store.publishers.follow(advisory, printed, now)
                    found.changed.append(key)
                store.publishers.sighted(key, printed, now, advisory)
                if (held := current.get(key)) and held[0] == earlier_print(advisory):
                    store.publishers.sighted(key, held[0], now)  # the version held, still out
            for url, document in found.documents.items():
                store.publishers.keep_document(url, document)
            store.publishers.fetched(
                found.kind, now, answered=found.answered > 0, changed=found.changed,
                errors=found.errors,
            )  # fmt: skip
    return rounds


async def _fetch(source: Source, store: Store) -> Round:
    found = Round(source.kind)
    local = httpx.URL(source.location).scheme == "http"  # a mirror on this machine
    async with client(source.timeout, local=local) as http:

        async def get(url: str, scope: str) -> tuple[Fetched, dict[str, Any]]:
            """The document, asked for conditionally only if what was read of it last
            time covers `scope` (the countries followed); (fetched, what was read)."""
            before = store.publishers.document(url)
            memo = json.loads(before.memo) if before.memo else {}
            usable = bool(memo) and memo.get("scope") == scope
            since = Validators(before.etag, before.last_modified) if usable else Validators()
            fetched = await fetch(http, url, since, deadline=source.timeout)
            found.answered += 1
            if fetched.body is None:
                if not usable:
                    raise UnreadableError(f"{url}: HTTP 304 to a request that was not conditional")
                found.unchanged.update((k, (p, url)) for k, p in memo.get("seen", {}).items())
            return fetched, memo

        with each_error(source.location, found):
            await reader(source.kind)(source, get, found)
    return found


def _republished(advisory: Advisory, before: Advisory | None) -> bool:
    """GOV.UK moves a page's `public_updated_at` (our `issued`) only for a major update:
    new words under the same date are its minor update (its content API does not say)."""
    return (
        advisory.publisher == "gov-uk" and before is not None and before.issued == advisory.issued
    )

"""Following benchmark: one check's fetch of the whole US feed, beside a bare download.

Builds a feed the size of the real one (the 217 titles of the archived index, each with
one of the archived bodies, about 1.4 MB), serves it from a local HTTP server, and times
`following.refresh` following every country ("*") on a fresh state file:

- first check: every advisory is news (fetch, parse, normalise, store);
- unchanged: the publisher answers 304;
- noise: a new copy whose every item moved its date (parsed, nothing is news).

The reference, in the same invocation, is a bare httpx GET of the same document plus
defusedxml parsing it: the least any follower must do. Prints seconds and the ratios.

    .venv/bin/python bench/sources.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import httpx
from defusedxml.ElementTree import fromstring

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support.feeds import ARCHIVE, Mirror, Reply, archived, mirror, rss, rss_item  # noqa: E402

from advisory.inputs.config import Config  # noqa: E402
from advisory.publishers.refresh import refresh  # noqa: E402
from advisory.state import Store, open_store  # noqa: E402

BODIES = sorted(p.stem for p in ARCHIVE.glob("*.json") if p.stem != "current_advisories_index")
RUNS = 5


def feed(date: str | None = None) -> bytes:
    index = archived("current_advisories_index")
    items = []
    for i, entry in enumerate(index):
        body = archived(BODIES[i % len(BODIES)])
        item = {**body, "full_title": entry["full_title"], "remote_link": entry["remote_link"],
                "date": date or entry["date"]}  # fmt: skip
        items.append(rss_item(item, fips=""))
    return rss(*items).encode()


def config(site: str, state: Path) -> Config:
    return Config.model_validate(
        {
            "service": {"state": str(state), "advisories": str(state.parent)},
            "sender": {"address": "advisories@example.org", "name": "Bench"},
            "sources": [{"kind": "us-state", "countries": ["*"], "url": f"{site}/feed.xml"}],
        },
        context={"base": state.parent},
    )


async def reference(url: str) -> float:
    started = time.perf_counter()
    async with httpx.AsyncClient() as http:
        body = (await http.get(url)).content
    fromstring(body)
    return time.perf_counter() - started


async def timed(cfg: Config, store: Store) -> tuple[float, int]:
    started = time.perf_counter()
    rounds = await refresh(cfg, store, time.time())
    assert not rounds[0].errors, rounds[0].errors
    return time.perf_counter() - started, len(rounds[0].changed)


async def main() -> None:
    document, moved = feed(), feed(date="Mon, 01 Jan 2024")
    print(f"feed: {len(document) / 2**20:.2f} MiB, {document.count(b'<item>')} items")
    with mirror() as site, tempfile.TemporaryDirectory() as tmp:
        Mirror.routes = {"/feed.xml": Reply(document)}
        ref = statistics.median([await reference(f"{site}/feed.xml") for _ in range(RUNS)])
        rows = []
        for run in range(RUNS):
            state = Path(tmp) / f"state{run}.sqlite3"
            cfg = config(site, state)
            with open_store(state) as store:
                Mirror.routes = {"/feed.xml": Reply(document)}
                first = await timed(cfg, store)
                unchanged = await timed(cfg, store)
                Mirror.routes = {"/feed.xml": Reply(moved)}
                noise = await timed(cfg, store)
            rows.append((first, unchanged, noise))
        Mirror.routes = {"/feed.xml": Reply(document)}
        state = Path(tmp) / "traced.sqlite3"
        with open_store(state) as store:
            tracemalloc.start()  # apart: tracing slows what it traces
            await timed(config(site, state), store)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    print(f"reference (GET + defusedxml parse): {ref * 1000:.0f} ms")
    for name, column in (("first check", 0), ("unchanged (304)", 1), ("noise only", 2)):
        seconds = statistics.median(r[column][0] for r in rows)
        news = rows[0][column][1]
        print(f"{name:<16} {seconds * 1000:7.0f} ms  ratio {seconds / ref:6.1f}  news {news}")
    print(f"peak Python memory during a first check: {peak / 2**20:.1f} MiB")


if __name__ == "__main__":
    asyncio.run(main())

"""Fetching from a real local HTTP server: conditional requests, errors, timeouts."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from feeds import FIXTURES

from advisory.fetch import Fetched, FetchError, Validators, client, fetch

FEED = (FIXTURES / "us" / "rss_raw" / "TAsTWs_excerpt_2026-10-07.xml").read_bytes()


class Publisher(BaseHTTPRequestHandler):
    """Serves the feed with an ETag; /broken answers 500, /slow stalls, /huge is big."""

    requests: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        Publisher.requests.append(dict(self.headers))
        if self.path == "/broken":
            self.send_error(500, "Internal Server Error")
        elif self.path == "/slow":
            time.sleep(2)
            with contextlib.suppress(OSError):  # the client timed out and went
                self.send_error(503)
        elif self.path == "/huge":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"x" * (2 * 2**20))
        elif self.path == "/latin":  # a validator no request can carry back
            self.send_response(200)
            self.send_header("ETag", '"v2"')
            self.send_header("Last-Modified", "Mié, 07 Oct 2026 21:02:01 GMT")
            self.end_headers()
            self.wfile.write(FEED)
        elif self.headers.get("If-None-Match") == '"v1"':
            self.send_response(304)
            self.end_headers()
        else:
            self.send_response(200)
            self.send_header("ETag", '"v1"')
            self.send_header("Last-Modified", "Wed, 07 Oct 2026 21:02:01 GMT")
            self.send_header("Content-Length", str(len(FEED)))
            self.end_headers()
            self.wfile.write(FEED)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def publisher() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Publisher)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Publisher.requests = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def get(url: str, since: Validators | None = None, *, local: bool = True, **kwargs: int) -> Fetched:
    async def go() -> Fetched:
        async with client(timeout=0.5, local=local) as http:
            return await fetch(http, url, since or Validators(), **kwargs)

    return asyncio.run(go())


def test_a_second_fetch_asks_whether_anything_changed(publisher: str) -> None:
    first = get(f"{publisher}/feed.xml")
    assert first.body == FEED
    assert first.validators == Validators('"v1"', "Wed, 07 Oct 2026 21:02:01 GMT")
    again = get(f"{publisher}/feed.xml", first.validators)
    assert again.body is None and again.validators == first.validators  # a 304
    assert Publisher.requests[1]["If-None-Match"] == '"v1"'
    assert Publisher.requests[1]["If-Modified-Since"] == "Wed, 07 Oct 2026 21:02:01 GMT"


def test_failures_are_one_line_naming_the_url(publisher: str) -> None:
    cases = {
        f"{publisher}/broken": "HTTP 500 Internal Server Error",
        f"{publisher}/slow": "timed out",
        "http://127.0.0.1:9/feed.xml": "ConnectError",
    }
    for url, reason in cases.items():
        with pytest.raises(FetchError) as caught:
            get(url)
        [line] = caught.value.problems
        assert line.startswith(f"{url}: ") and reason in line
    with pytest.raises(FetchError, match="larger than 1 MiB"):
        get(f"{publisher}/huge", max_bytes=2**20)


def test_plain_http_only_to_a_local_mirror_and_only_ascii_validators(publisher: str) -> None:
    with pytest.raises(FetchError, match="refused: not https"):
        get(f"{publisher}/feed.xml", local=False)
    latin = get(f"{publisher}/latin")
    assert latin.validators == Validators('"v2"', None)
    assert get(f"{publisher}/latin", latin.validators).body == FEED

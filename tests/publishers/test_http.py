"""Fetching from a real local HTTP server: conditional requests, errors, timeouts."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gzip
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from support.feeds import FIXTURES

from advisory.errors import FetchError
from advisory.publishers.http import Fetched, Validators, client, fetch

FEED = (FIXTURES / "us" / "rss_raw" / "TAsTWs_excerpt_2026-10-07.xml").read_bytes()


@functools.cache
def _compressed(codings: str, size: int) -> bytes:
    """`size` zeros in `codings`; 3 and 0 zeros, and 1001, in the forms servers also send."""
    if (codings, size) == ("gzip", 3):  # two members, then padding
        return gzip.compress(b"\0") + gzip.compress(b"\0\0") + b"\0" * 16
    if (codings, size) == ("deflate", 3):  # raw deflate, without zlib's header
        packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        return packer.compress(b"\0" * 3) + packer.flush()
    if size == 0:
        return b""
    body = b"\0" * size
    for coding in codings.split(","):
        body = zlib.compress(body, 9) if coding == "deflate" else gzip.compress(body, 9)
    return body[: len(body) // 2] if size == 1001 else body  # 1001: cut short


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
        elif self.path.startswith("/gzip"):  # /gzip/<codings>/<size>: zeros, compressed
            _, _, codings, size = self.path.split("/")
            body = _compressed(codings, int(size))
            self.send_response(200)
            self.send_header("Content-Encoding", codings.replace(",", ", "))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/escapes":  # a reason phrase that would drive a terminal
            self.send_response(500, "\x1b]0;owned\x07\x1b[2J Internal \xe4rror")
            self.end_headers()
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


def test_compressed_bodies_are_bounded_as_they_are_decoded(publisher: str) -> None:
    assert get(f"{publisher}/gzip/gzip/1000").body == b"\0" * 1000
    assert get(f"{publisher}/gzip/deflate/1000").body == b"\0" * 1000
    assert Publisher.requests[0]["Accept-Encoding"] == "gzip, deflate"
    for path in ("gzip/gzip/3", "gzip/deflate/3"):  # as browsers read them
        assert get(f"{publisher}/{path}").body == b"\0" * 3
    assert get(f"{publisher}/gzip/gzip/0").body == b""
    with pytest.raises(FetchError, match="cut short"):
        get(f"{publisher}/gzip/gzip/1001")
    _compressed("gzip,gzip", 2**26), _compressed("gzip", 2**26)  # made before measuring
    tracemalloc.start()
    try:
        for path, reason in [
            ("gzip,gzip/67108864", "refused: more than one content encoding"),  # 64 MiB in 200 B
            ("gzip/67108864", "larger than 8 MiB"),  # 64 MiB of zeros in 65 KB
            ("br/10", "refused: unknown content encoding"),
        ]:
            with pytest.raises(FetchError) as caught:
                get(f"{publisher}/gzip/{path}")
            assert caught.value.problems == (f"{publisher}/gzip/{path}: {reason}",)
        assert tracemalloc.get_traced_memory()[1] < 24 * 2**20  # the peak: never it all
    finally:
        tracemalloc.stop()


def test_a_reason_phrase_is_printable_whatever_the_server_sends(publisher: str) -> None:
    with pytest.raises(FetchError) as caught:
        get(f"{publisher}/escapes")
    [line] = caught.value.problems
    assert line.isprintable() and "\x1b" not in line and "Internal" in line

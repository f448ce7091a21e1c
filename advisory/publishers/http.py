"""Fetching a publisher's document: timeouts, conditional requests, one clear error.

Publishers are asked "anything since?" with the ETag and Last-Modified they last gave,
so an unchanged feed costs a 304 and no parsing. Every failure (refused, timed out, an
HTTP error, a body too large) is one `FetchError` line naming the URL, for the caller to
log against that source while the others, and the delivery of what is known, go on.
"""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass
from typing import Any, Final

import httpx

from advisory.domain.text import outside
from advisory.domain.urls import secure
from advisory.errors import FetchError

__all__ = [
    "MAX_BYTES",
    "FetchError",
    "Fetched",
    "Validators",
    "client",
    "fetch",
]

MAX_BYTES: Final = 8 * 2**20  # the US feed is about 600 KB; anything this big is not it


@dataclass(frozen=True, slots=True)
class Validators:
    """What the publisher said of the last copy, to ask whether there is a newer one."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class Fetched:
    body: bytes | None  # None: not modified since the validators sent
    validators: Validators


def _ascii(validator: str | None) -> str | None:
    """A validator we can send back: a header must be ASCII, so any other is dropped."""
    return validator if validator and validator.isascii() else None


def client(timeout: float = 30, *, local: bool = False) -> httpx.AsyncClient:
    """One client for a round of fetches: connections reused, every hop of a redirect
    https (or, for a `local` mirror, http to this machine)."""

    async def refuse_insecure(request: httpx.Request) -> None:
        if request.url.scheme != "https" and not (local and secure(str(request.url))):
            raise FetchError(f"{request.url}: refused: not https")

    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout),
        follow_redirects=True,
        headers={"User-Agent": "advisory (travel-advisory notifications)"},
        event_hooks={"request": [refuse_insecure]},
    )


async def fetch(
    http: httpx.AsyncClient,
    url: str,
    since: Validators = Validators(),
    max_bytes: int = MAX_BYTES,
    deadline: float | None = None,
) -> Fetched:
    """The document at `url`, or None for its body when unchanged since `since`.

    `deadline` bounds the whole request in seconds: the client's timeout is per read,
    and a server may trickle a byte at a time.
    """
    try:
        async with asyncio.timeout(deadline):
            return await _fetch(http, url, since, max_bytes)
    except TimeoutError:
        raise FetchError(f"{url}: timed out") from None


async def _fetch(http: httpx.AsyncClient, url: str, since: Validators, max_bytes: int) -> Fetched:
    headers = {}
    if since.etag:
        headers["If-None-Match"] = since.etag
    if since.last_modified:
        headers["If-Modified-Since"] = since.last_modified
    headers["Accept-Encoding"] = "gzip, deflate"  # what _Decoded reads, within bounds
    try:
        async with http.stream("GET", url, headers=headers) as response:
            if response.status_code == 304:
                return Fetched(None, since)
            if response.status_code != 200:
                reason = outside(response.reason_phrase, 200)
                raise FetchError(f"{url}: HTTP {response.status_code} {reason}".rstrip())
            decoded = _Decoded(url, response.headers.get("Content-Encoding", ""), max_bytes)
            async for chunk in response.aiter_raw():
                decoded.feed(chunk)
            body = decoded.end()
            fresh = Validators(_ascii(response.headers.get("ETag")),
                               _ascii(response.headers.get("Last-Modified")))  # fmt: skip
    except httpx.TimeoutException:
        raise FetchError(f"{url}: timed out") from None
    except httpx.HTTPError as e:
        raise FetchError(f"{url}: {type(e).__name__}: {outside(str(e), 300)}") from None
    return Fetched(body, fresh)


class _Decoded:
    """A body decoded as it arrives, never past `limit` bytes however it was compressed.

    One coding at most (gzip or deflate): each decompression step is asked for no more
    than what is left under the limit, so a small bomb, nested or not, stops at the limit.
    Read as browsers read them: several gzip members one after another, padding after
    the last, deflate with or without its zlib header, and an empty body.
    """

    def __init__(self, url: str, encoding: str, limit: int) -> None:
        self.url, self.limit = url, limit
        codings = [c.strip().lower() for c in encoding.split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > 1:
            raise FetchError(f"{url}: refused: more than one content encoding")
        coding = codings[0] if codings else ""
        if coding not in _WBITS:
            raise FetchError(f"{url}: refused: unknown content encoding")
        self.wbits = _WBITS[coding]
        self.inflate: Any = None  # made once the first bytes tell which form it is
        self.head = b""  # the first bytes, until there are two to tell
        self.padding = False  # what follows the last gzip member is ignored
        self.out = bytearray()

    def feed(self, chunk: bytes) -> None:
        if not self.wbits:
            self._keep(chunk)
            return
        if self.inflate is None:
            self.head += chunk
            if len(self.head) < 2:
                return
            chunk, self.head = self.head, b""
            self.inflate = zlib.decompressobj(self._window(chunk))
        try:
            while chunk and not self.padding:
                self._keep(self.inflate.decompress(chunk, self.limit + 1 - len(self.out)))
                chunk = self.inflate.unconsumed_tail
                if self.inflate.eof and (chunk := chunk or self.inflate.unused_data):
                    self.padding = not chunk.startswith(b"\x1f\x8b")  # else a next member
                    self.inflate = zlib.decompressobj(self.wbits)
        except zlib.error:
            raise FetchError(f"{self.url}: the compressed body is damaged") from None

    def _window(self, start: bytes) -> int:
        """Deflate is sent with zlib's header as the standard says, or raw as some do."""
        if self.wbits != zlib.MAX_WBITS:
            return self.wbits
        zlib_header = start[0] & 0x0F == 8 and (start[0] << 8 | start[1]) % 31 == 0
        return zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS

    def _keep(self, data: bytes) -> None:
        self.out += data
        if len(self.out) > self.limit:
            size = f"{self.limit // 2**20} MiB" if self.limit >= 2**20 else f"{self.limit} bytes"
            raise FetchError(f"{self.url}: larger than {size}")

    def end(self) -> bytes:
        begun = self.inflate is not None
        if self.head or (begun and not (self.inflate.eof or self.padding)):
            raise FetchError(f"{self.url}: the compressed body is cut short")
        return bytes(self.out)


# zlib's window bits for each content coding: gzip's header, zlib's header (deflate).
_WBITS: Final = {"": 0, "gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS,
                 "deflate": zlib.MAX_WBITS}  # fmt: skip

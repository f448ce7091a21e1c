"""What the publishers serve, for tests: the State Department's RSS feed rebuilt from
archived items, GOV.UK's pages, and a local HTTP server to serve them from.

The archive (`fixtures/us/rss_archive`) keeps each item's description as the
Markdown html2text made of it; here it goes back to the simple HTML the feed carries.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ARCHIVE = FIXTURES / "us" / "rss_archive"
FIPS = {"venezuela": "VE", "russia": "RS", "iran": "IR", "north_korea": "KN", "china": "CH",
        "mainland_china_hong_kong__macau": "CH", "mexico_travel_advisory": "MX"}  # fmt: skip


def archived(name: str) -> dict[str, Any]:
    item: dict[str, Any] = json.loads((ARCHIVE / f"{name}.json").read_text(encoding="utf-8"))
    return item


def markdown_to_html(text: str) -> str:
    out = []
    for block in re.split(r"\n\s*\n", text):
        block = re.sub(r"[*_]{2,}|(?<!\w)_|_(?!\w)", "", block).strip()
        block = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", block)
        if not block:
            continue
        if block.startswith("#"):
            out.append(f"<h5>{html.escape(block.lstrip('# '))}</h5>")
        elif re.match(r"\s*\* ", block):
            items = [
                html.escape(i.strip()) for i in re.split(r"^\s*\* ", block, flags=re.M) if i.strip()
            ]
            out.append("<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
        else:
            out.append(f"<p>{html.escape(' '.join(block.split()))}</p>")
    return "\n".join(out)


def rss_item(
    item: dict[str, Any],
    *,
    body: str | None = None,
    date: str | None = None,
    fips: str | None = None,
) -> str:
    fips = FIPS.get(item["filename_base"], "") if fips is None else fips
    level = re.search(r"Level \d: [^-]+$", item["full_title"])
    description = markdown_to_html(item["content_md"]) if body is None else body
    tag = f'<category domain="Country-Tag">{fips}</category>' if fips else ""
    return (
        f"<item><title>{html.escape(item['full_title'])}</title>"
        f"<link>{html.escape(item['remote_link'])}</link>"
        f"<pubDate>{date or item['date']}</pubDate>"
        f"<description><![CDATA[{description}]]></description>"
        f'<category domain="Threat-Level">{level.group(0) if level else ""}</category>{tag}'
        f'<category domain="Keyword">advisory</category></item>'
    )


def rss(*items: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        "<title>travel.state.gov: Travel Advisories</title>" + "".join(items) + "</channel></rss>"
    )


UK = FIXTURES / "uk"


def gov_uk_index(**slugs: str) -> dict[str, Any]:
    """GOV.UK's travel-advice index, listing these countries (name=slug) beside its own."""
    index: dict[str, Any] = json.loads((UK / "govuk_travel_advice_index.json").read_text())
    index["links"]["children"] += [
        {"details": {"country": {"name": name, "slug": slug}}} for name, slug in slugs.items()
    ]
    return index


def gov_uk_venezuela(alert_status: list[str], updated: str, note: str = "") -> dict[str, Any]:
    """GOV.UK's Venezuela page: the content item's shape, with the real FCDO page's text."""
    page: dict[str, Any] = json.loads((UK / "govuk_travel_advice_full_country.json").read_text())
    text = (UK / "venezuela_warnings_and_insurance.md").read_text(encoding="utf-8")
    text = re.sub(
        r"!\[\]\([^)]*\)|^(Still current at|Updated|Latest update):$|^:.*$|^# .*$",
        "",
        text,
        flags=re.M,
    )
    page.update(base_path="/foreign-travel-advice/venezuela", title="Venezuela travel advice",
                public_updated_at=updated, withdrawn_notice={})  # fmt: skip
    page["details"].update(
        country={"slug": "venezuela", "name": "Venezuela"},
        alert_status=alert_status,
        parts=[{"slug": "warnings-and-insurance", "title": "Warnings and insurance",
                "body": markdown_to_html(f"{note}\n\n{text}")}],
    )  # fmt: skip
    return page


@dataclass
class Reply:
    body: bytes = b""
    status: int = 200
    delay: float = 0.0  # before answering
    pace: float = 0.0  # between each byte of the body: a server trickling it
    headers: dict[str, str] = field(default_factory=dict)


class Mirror(BaseHTTPRequestHandler):
    """A publisher's site, as a test sets it each day: an ETag per body, 304 when unchanged."""

    routes: ClassVar[dict[str, Reply]] = {}
    log: ClassVar[list[tuple[str, int]]] = []  # (path, status) of every request

    def do_GET(self) -> None:
        reply = self.routes.get(self.path, Reply(b"not found", 404))
        time.sleep(reply.delay)
        etag = f'"{hashlib.sha256(reply.body).hexdigest()[:16]}"'
        status = (
            304 if reply.status == 200 and self.headers["If-None-Match"] == etag else reply.status
        )
        self.log.append((self.path, status))
        self.send_response(status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if status == 200:
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if status != 304:
            with contextlib.suppress(OSError):  # the client may have timed out and gone
                body = reply.body
                for chunk in [body[i : i + 1] for i in range(len(body))] if reply.pace else [body]:
                    self.wfile.write(chunk)
                    self.wfile.flush()
                    time.sleep(reply.pace)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def mirror() -> Iterator[str]:
    """A local publisher's site on a free port; its base URL."""
    Mirror.routes, Mirror.log = {}, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Mirror)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()

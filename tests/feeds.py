"""The State Department's RSS feed rebuilt from archived items, for tests to serve.

The archive (`fixtures/us/rss_archive`) keeps each item's description as the
Markdown html2text made of it; here it goes back to the simple HTML the feed carries.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures"
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

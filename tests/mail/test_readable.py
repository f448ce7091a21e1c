"""Every HTML message readable by everyone, measured in a real browser (Debian's Chromium,
Playwright): no visible text below 14 px, and every text at WCAG AA contrast against what
is behind it (4.5:1; 3:1 for large text), in light mode and in dark mode, which the
messages declare they support (`color-scheme: light dark`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from playwright.sync_api import Browser, sync_playwright
from support.models import ACKS, RENDERER, advisory, reader

from advisory.domain.changes import what_changed
from advisory.domain.models import Format, Level, Trip
from advisory.mail.rendering import Line

TRIP = Trip(country="VE", start=date(2026, 12, 3), end=date(2026, 12, 10))
# Each visible text's size and contrast ratio against the first background behind it.
MEASURE = """() => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = c => (c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const behind = el => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || c[3] > 0) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const out = [];
  for (const el of document.querySelectorAll(".button")) {  // a control: 3:1 to its card
    const [a, b] = [lum(behind(el)), lum(behind(el.parentElement.closest("table").parentElement))];
    out.push({text: "(the button itself)", size: 24, bold: true,
              ratio: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)});
  }
  for (const el of document.body.querySelectorAll("*")) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.checkVisibility()) continue;
    const style = getComputedStyle(el);
    const [a, b] = [lum(rgb(style.color)), lum(behind(el))];
    out.push({text: el.textContent.trim().slice(0, 40), size: parseFloat(style.fontSize),
              bold: Number(style.fontWeight) >= 700,
              ratio: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)});
  }
  return out;
}"""


def messages() -> Iterator[tuple[str, str]]:
    sub = reader(Format.HTML)
    for level in Level:
        old = advisory(level=4 if level < 4 else 3, details="Crime is high.")
        region = {"name": "Border", "level": 4, "summary": "Armed groups."}
        new = advisory(level=level, risks=["detention", "crime"], change_note="Crime rose.",
                       details="Crime is high in Caracas.", regions=[region])  # fmt: skip
        alert = RENDERER.render(new, sub, ACKS, what_changed(old, new), trip=TRIP,
                                briefing=True, today=date(2026, 12, 1), ack=True)  # fmt: skip
        yield f"alert L{level.value}", alert.html or ""
    reminder = RENDERER.render(advisory(), sub, ACKS, trip=TRIP, ack=True, reminder=True)
    yield "reminder", reminder.html or ""
    raised = what_changed(advisory(level=3), advisory())
    digest = RENDERER.render_digest([advisory(), advisory(country="CO", level=2)], sub, ACKS,
                                    changes=[raised, None])  # fmt: skip
    yield "digest", digest.html or ""
    lines = [
        Line("Ana", "ana@example.org", TRIP.start, TRIP.end, "failed", 0.0, None, "550 no"),
        Line("Ben", "ben@example.org", TRIP.start, TRIP.end, "sent", 0.0, 60.0, None, True),
    ]
    desk = RENDERER.render_desk("escalation", advisory(), lines, lines[1:], sub, ACKS, after="30m")
    yield "desk", desk.html or ""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
        )
        yield chromium
        chromium.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_text_is_14_px_or_more_and_keeps_its_contrast(browser: Browser, scheme: str) -> None:
    page = browser.new_page(color_scheme=scheme, java_script_enabled=True)  # type: ignore[arg-type]
    try:
        for name, html in messages():
            assert 'content="light dark"' in html, name
            page.set_content(html)
            texts = page.evaluate(MEASURE)
            assert texts, name
            for text in texts:
                large = text["size"] >= 24 or (text["size"] >= 18.66 and text["bold"])
                assert text["size"] >= 14, (scheme, name, text)
                assert text["ratio"] >= (3 if large else 4.5), (scheme, name, text)
    finally:
        page.close()

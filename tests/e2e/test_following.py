"""Following the official publishers end to end: a month of their real noise, replayed from
a local site, alerts each reader once per real change.

The US feed follows VE, RU and IR; GOV.UK follows VE; the service's own files go on
beside them. Each day the site serves that day's snapshot and `advisory send` runs as
an operator's cron would.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pytest
from support.feeds import (
    FIXTURES,
    Mirror,
    Reply,
    archived,
    gov_uk_index,
    gov_uk_venezuela,
    markdown_to_html,
    mirror,
    rss,
    rss_item,
)
from support.project import VE, Project, body, config_text, messages, parse, smtp_section
from support.serve import serving, stop, wait_for
from support.smtp import Server

from advisory.cli import main
from advisory.inputs.config import Config
from advisory.publishers.noise import earlier_print
from advisory.publishers.reading import Round
from advisory.publishers.refresh import refresh
from advisory.publishers.us_state import advisories as us_state_advisories
from advisory.state import open_store

MARCH, JUNE = archived("venezuela_L3_2026-03-19"), archived("venezuela_L3_2026-06-27")
RUSSIA, RUSSIA_LONGER = (
    archived("russia_L4_2025-12-29"),
    archived("russia_L4_2025-12-29_longer_variant"),
)
IRAN = archived("iran_L4_2025-12-05")
UK_L3 = ["avoid_all_but_essential_travel_to_whole_country"]
UK_L4 = ["avoid_all_travel_to_whole_country"]
INDEX = "/api/content/foreign-travel-advice"

READERS = """\
[[subscribers]]
name = "Ana Pérez"
email = "ana@example.org"
countries = ["VE"]
format = "html"

[[subscribers]]
name = "Ben Okafor"
email = "ben@example.org"
countries = ["RU", "IR"]
format = "text"
sources = ["us-state"]

[[subscribers]]
name = "Chloé Martin"
email = "chloe@example.org"
countries = ["VE"]
format = "alert"
sources = ["gov-uk"]

[[subscribers]]
name = "Dev Shah"
email = "dev@example.org"
countries = ["VE"]
format = "text"
sources = ["files"]
"""


def following(site: str) -> str:
    return f"""
[[sources]]
kind = "files"

[[sources]]
kind = "us-state"
countries = ["VE", "RU", "IR"]
url = "{site}/feed.xml"
timeout = 1

[[sources]]
kind = "gov-uk"
countries = ["VE"]
url = "{site}{INDEX}"
timeout = 1
"""


def feed(*items: str) -> Reply:
    return Reply(rss(*items).encode())


def uk(status: list[str], updated: str = "2026-07-01T19:10:05+01:00") -> Reply:
    return Reply(json.dumps(gov_uk_venezuela(status, updated)).encode())


def day_of(day: int) -> dict[str, Reply]:
    """What the sites serve on `day` of the month: mostly noise, five real changes."""
    ve = rss_item(JUNE if day % 2 == 0 and day >= 2 else MARCH)  # flip-flops from day 2
    ru = rss_item(RUSSIA_LONGER if day >= 9 and day % 3 else RUSSIA)  # from day 9 too
    us = feed(ve, ru, rss_item(IRAN))
    site = {"/feed.xml": us, INDEX: Reply(json.dumps(gov_uk_index(Venezuela="venezuela")).encode())}
    site[f"{INDEX}/venezuela"] = uk(UK_L4 if day >= 10 else UK_L3)
    if day in (0, 1):
        site["/feed.xml"] = feed(rss_item(MARCH), rss_item(RUSSIA), rss_item(IRAN))
    elif day == 4:
        site["/feed.xml"] = Reply(b"Internal Server Error", 500)
    elif day == 5:
        site["/feed.xml"] = Reply(us.body, delay=2)  # beyond the source's 1 s timeout
    elif day == 6:
        site["/feed.xml"] = feed(rss_item(JUNE, body=""), ru, rss_item(IRAN))  # empty body
    elif day == 7:  # a duplicate item, and a date moved backwards
        site["/feed.xml"] = feed(ve, ru, ru, rss_item(IRAN, date="Mon, 01 Dec 2025"))
    elif day == 8:
        note = markdown_to_html("Reissued July 3, 2026 after review with no edits.")
        site["/feed.xml"] = feed(
            rss_item(JUNE, body=f"{note}\n{markdown_to_html(JUNE['content_md'])}"), ru
        )
    elif day == 16:
        site["/feed.xml"] = Reply(b"<html>Service temporarily unavailable")  # not a feed
    elif day == 20:
        site[f"{INDEX}/venezuela"] = Reply(b"Bad Gateway", 502)
    elif day == 25:  # reviewed, nothing edited: only the date moves
        site[f"{INDEX}/venezuela"] = uk(UK_L4, "2026-08-25T09:00:00+01:00")
    return site


def subjects(project: Project, days: dict[str, int] | None = None) -> dict[str, list[str]]:
    """Each reader's subjects in the order sent: by the day a file appeared, if told, then
    by Date; those of one run (one Date) by subject."""
    box = sorted((project.outbox / "new").iterdir())
    out: dict[str, list[str]] = {}
    dated = [((days or {}).get(path.name, 0), parse(path.read_bytes())) for path in box]
    for _, message in sorted(
        dated, key=lambda d: (d[0], d[1]["Date"].datetime, str(d[1]["Subject"]))
    ):
        out.setdefault(str(message["To"].addresses[0].addr_spec), []).append(
            str(message["Subject"])
        )
    return out


def test_a_month_of_publisher_noise_alerts_each_reader_once_per_real_change(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    with mirror() as site:
        project.write_config(config_text(subscribers=READERS) + following(site))
        said, sent_on = {}, dict[str, int]()
        for day in range(30):  # in this process: thirty interpreters would cost half a minute
            Mirror.routes = day_of(day)
            if day == 4:  # our own file changes the day the US feed fails
                project.advisory("ve", VE.replace("long been", "for years been"))
            code = main(["send", "--config", str(project.config)])
            said[day] = capsys.readouterr().err
            assert code == 0, (day, said[day])
            for path in (project.outbox / "new").iterdir():  # days pass faster than seconds
                sent_on.setdefault(path.name, day)
        sources = project.run("sources")
    got = subjects(project, sent_on)

    assert got == {
        "ana@example.org": [
            *sorted(
                [
                    "Venezuela (UK) travel advisory: Level 3 – Reconsider travel",
                    "Venezuela (US) travel advisory: Level 3 – Reconsider travel, Level 4 in parts",
                    "Venezuela travel advisory: Level 4 – Do not travel",
                ]
            ),
            # day 2: the June text (its regions the same as March's)
            "Venezuela (US) travel advisory updated: Level 3 – Reconsider travel, Level 4 in parts",
            "Venezuela travel advisory updated: Level 4 – Do not travel",  # day 4, our file
            "Venezuela (UK) travel advisory raised to Level 4 – Do not travel",  # day 10
        ],
        "ben@example.org": [
            *sorted(
                [
                    "Iran (US) travel advisory: Level 4 – Do not travel",
                    "Russia (US) travel advisory: Level 4 – Do not travel",
                ]
            ),
            "Russia (US) travel advisory updated: Level 4 – Do not travel",  # day 9
        ],
        "chloe@example.org": [
            "Venezuela (UK) travel advisory: Level 3 – Reconsider travel",
            "Venezuela (UK) travel advisory raised to Level 4 – Do not travel",
        ],
        "dev@example.org": [
            "Venezuela travel advisory: Level 4 – Do not travel",
            "Venezuela travel advisory updated: Level 4 – Do not travel",
        ],
    }
    # Each failure was one line naming its source and URL; the run went on.
    assert f"us-state: {site}/feed.xml: HTTP 500" in said[4]
    assert said[5].strip() == f"us-state: {site}/feed.xml: timed out"
    assert f"us-state: {site}/feed.xml: not an RSS feed" in said[16]
    assert said[20].strip() == f"gov-uk: {site}{INDEX}/venezuela: HTTP 502 Bad Gateway"
    assert "news for VE@us-state" in said[2] and "news" not in said[3] + said[8]
    # Unchanged documents were asked for conditionally and cost a 304.
    replies = Counter(Mirror.log)
    assert replies[("/feed.xml", 304)] >= 1 and replies[(f"{INDEX}/venezuela", 304)] >= 15

    assert sources.returncode == 0, sources.stderr
    lines = sources.stdout.splitlines()
    us = lines[lines.index(f"us-state  {site}/feed.xml") :]
    assert us[1:3] == ["  follows      VE RU IR", "  current      IR L4 (2025-12-05), "
                       "RU L4 (2025-12-29), VE L3 (L4 in parts) (2026-06-27)"]  # fmt: skip
    assert us[4].startswith("  last change  ") and us[4].endswith(": RU@us-state")
    assert us[5].startswith("  last error   ") and f"{site}/feed.xml: not an RSS feed: " in us[5]
    gov = lines[lines.index(f"gov-uk    {site}{INDEX}") :]
    assert gov[2] == "  current      VE L4 (2026-07-01)"
    assert gov[5].endswith(f"{site}{INDEX}/venezuela: HTTP 502 Bad Gateway")


def test_canada_is_followed_country_by_country(project: Project) -> None:
    document = (FIXTURES / "canada" / "cta-cap-co_excerpt_2026-10-06.json").read_bytes()
    with mirror() as site:
        Mirror.routes = {"/travel/cta-cap-co.json": Reply(document)}
        project.write_config(
            config_text(
                subscribers=READERS.replace('"RU", "IR"', '"CO"').replace("us-state", "canada")
            )
            + f'[[sources]]\nkind = "canada"\ncountries = ["CO", "PE"]\nurl = "{site}/travel"\n'
        )
        result = project.run("send")
        again = project.run("send")
        sources = project.run("sources")
    assert result.returncode == 0, result.stderr
    # Peru's page is missing: one line for it; Colombia's alert goes out regardless.
    assert result.stderr.splitlines() == [
        "canada: news for CO@canada",
        f"canada: {site}/travel/cta-cap-pe.json: HTTP 404 Not Found",
    ]
    assert subjects(project) == {
        "ben@example.org": [
            "Colombia (Canada) travel advisory: Level 2 – Exercise increased caution, "
            "Level 4 in parts"
        ]
    }
    assert again.stdout.startswith("nothing due")
    lines = sources.stdout.splitlines()
    assert lines[0] == f"canada    {site}/travel"
    assert lines[2:4] == [
        "  current      CO L2 (L4 in parts) (2026-10-06)",
        "  none yet     PE (not in what the publisher sent)",
    ]
    assert lines[6].endswith(f"{site}/travel/cta-cap-pe.json: HTTP 404 Not Found")


def test_serve_fetches_before_every_check_and_logs_each_source(
    project: Project, smtpd: Server
) -> None:
    got = smtpd.handler.received
    ana = READERS.split("\n\n")[0] + "\n"
    with mirror() as site:
        Mirror.routes = {"/feed.xml": feed(rss_item(MARCH))}
        project.write_config(
            config_text(delivery='transport = "smtp"', smtp=smtp_section(smtpd), subscribers=ana)
            + f'[[sources]]\nkind = "us-state"\ncountries = ["VE"]\nurl = "{site}/feed.xml"\n'
        )
        with serving(project, "--check-every", "0.3", "--log-format", "json") as proc:
            wait_for(lambda: len(got) == 1)
            Mirror.routes = {"/feed.xml": Reply(b"Internal Server Error", 500)}
            wait_for(lambda: ("/feed.xml", 500) in Mirror.log)
            Mirror.routes = {"/feed.xml": feed(rss_item(JUNE))}
            wait_for(lambda: len(got) == 2)
            wait_for(lambda: Mirror.log.count(("/feed.xml", 304)) >= 2)  # checks go on: no news
            code, err = stop(proc)
    assert code == 0, err
    assert [str(r.message["Subject"]) for r in got] == [
        "Venezuela (US) travel advisory: Level 3 – Reconsider travel, Level 4 in parts",
        "Venezuela (US) travel advisory updated: Level 3 – Reconsider travel, Level 4 in parts",
    ]
    events = [json.loads(line) for line in err.splitlines()]
    said = [(e["event"], e["message"]) for e in events if e["event"] in ("news", "source")]
    assert said[0] == ("news", "us-state: news for VE@us-state")
    assert ("source", f"us-state: {site}/feed.xml: HTTP 500 Internal Server Error") in said
    assert said.count(("news", "us-state: news for VE@us-state")) == 2


# --- what a publisher may send, and what a follower must survive -------------------------

DAY = 86400.0


def followed(site: str, state: Path, **source: object) -> Config:
    """A config following one publisher from the local site, for in-process refreshes."""
    return Config.model_validate(
        {
            "service": {"state": str(state), "advisories": str(state.parent)},
            "sender": {"address": "advisories@example.org", "name": "Test"},
            "sources": [{"timeout": 1, **source}],
        },
        context={"base": state.parent},
    )


def checks(
    config: Config, state: Path, days: dict[int, dict[str, Reply]], on: Iterable[int] = ()
) -> dict[int, Round]:
    """One refresh per day, or on the days `on` (a day's site stays until the next is
    set); the rounds by day."""
    out = {}
    with open_store(state) as store:
        for day in on or range(max(days) + 1):
            Mirror.routes = days.get(day, Mirror.routes)
            out[day] = asyncio.run(refresh(config, store, 1.8e9 + day * DAY))
    return {day: rounds[0] for day, rounds in out.items()}


def test_quiet_months_of_304s_keep_the_current_version_seen(tmp_path: Path) -> None:
    with mirror() as site:
        config = followed(site, tmp_path / "s.sqlite3", kind="us-state", url=f"{site}/feed.xml")
        note = markdown_to_html("Reissued after review with no edits.")
        reissued = rss_item(JUNE, body=f"{note}\n{markdown_to_html(JUNE['content_md'])}")
        days = {0: {"/feed.xml": feed(rss_item(JUNE))}, 45: {"/feed.xml": feed(reissued)}}
        rounds = checks(config, tmp_path / "s.sqlite3", days)
    assert [day for day, found in rounds.items() if found.changed] == [0]
    assert Mirror.log.count(("/feed.xml", 304)) == 44


def test_a_reversion_that_lasts_a_whole_window_becomes_current(tmp_path: Path) -> None:
    raised = rss_item(
        MARCH, body=markdown_to_html(MARCH["content_md"]).replace("Level 3", "Level 4")
    )
    raised = raised.replace("Level 3: Reconsider Travel", "Level 4: Do Not Travel")
    with mirror() as site:
        config = followed(site, tmp_path / "s.sqlite3", kind="us-state", url=f"{site}/feed.xml")
        days = {0: {"/feed.xml": feed(rss_item(MARCH))}, 1: {"/feed.xml": feed(raised)},
                2: {"/feed.xml": feed(rss_item(MARCH, date="Sat, 21 Mar 2026"))}}  # fmt: skip
        days[40] = days[2]
        rounds = checks(config, tmp_path / "s.sqlite3", days)
        with open_store(tmp_path / "s.sqlite3", readonly=True) as store:
            [current] = store.publishers.followed()
    # Level 3, raised to 4 for a day, then level 3 for good: told once the 4 is a window old.
    assert [day for day, found in rounds.items() if found.changed] == [0, 1, 32]
    assert current.level == 3


def test_a_raise_back_to_a_recent_level_is_told_at_once(tmp_path: Path) -> None:
    raised = rss_item(
        MARCH, body=markdown_to_html(MARCH["content_md"]).replace("Level 3", "Level 4")
    )
    raised = raised.replace("Level 3: Reconsider Travel", "Level 4: Do Not Travel")
    with mirror() as site:
        config = followed(site, tmp_path / "s.sqlite3", kind="us-state", url=f"{site}/feed.xml")
        days = {0: {"/feed.xml": feed(raised)}, 10: {"/feed.xml": feed(rss_item(MARCH))},
                15: {"/feed.xml": feed(raised)}, 16: {"/feed.xml": feed(rss_item(MARCH))},
                17: {"/feed.xml": feed(raised)}}  # fmt: skip
        rounds = checks(config, tmp_path / "s.sqlite3", days)
    # Lowered on day 10, raised again on day 15: told then, not a window later. The
    # flip-flop after it is noise.
    assert [day for day, found in rounds.items() if found.changed] == [0, 10, 15]


def test_a_version_unseen_for_a_window_behind_a_304_is_read_again(tmp_path: Path) -> None:
    raised = rss_item(
        MARCH, body=markdown_to_html(MARCH["content_md"]).replace("Level 3", "Level 4")
    )
    raised = raised.replace("Level 3: Reconsider Travel", "Level 4: Do Not Travel")
    with mirror() as site:
        config = followed(site, tmp_path / "s.sqlite3", kind="us-state", url=f"{site}/feed.xml")
        days = {0: {"/feed.xml": feed(rss_item(MARCH))}, 1: {"/feed.xml": feed(raised)},
                2: {"/feed.xml": feed(rss_item(MARCH))}}  # fmt: skip
        # The service is stopped from day 3 to day 40; the publisher never changed since.
        rounds = checks(config, tmp_path / "s.sqlite3", days, on=[0, 1, 2, 3, 40, 41])
    assert [day for day, found in rounds.items() if found.changed] == [0, 1, 41]
    assert [status for _, status in Mirror.log] == [200, 200, 200, 304, 304, 200]


def test_a_country_added_to_a_feed_that_has_not_changed_is_read(tmp_path: Path) -> None:
    with mirror() as site:
        state = tmp_path / "s.sqlite3"
        Mirror.routes = {"/feed.xml": feed(rss_item(MARCH), rss_item(RUSSIA))}
        with open_store(state) as store:
            ve = followed(site, state, kind="us-state", url=f"{site}/feed.xml", countries=["VE"])
            both = ve.model_copy(update={"sources": (ve.sources[0].model_copy(
                update={"countries": ("VE", "RU")}),)})  # fmt: skip
            first = asyncio.run(refresh(ve, store, 1.8e9))
            again = asyncio.run(refresh(ve, store, 1.8e9 + DAY))
            added = asyncio.run(refresh(both, store, 1.8e9 + 2 * DAY))
    assert [r[0].changed for r in (first, again, added)] == [["VE@us-state"], [], ["RU@us-state"]]
    assert [status for _, status in Mirror.log] == [200, 304, 200]


def test_whatever_a_publisher_sends_is_one_line_and_the_rest_goes_on(project: Project) -> None:
    mojibake = rss_item(JUNE, body=markdown_to_html(JUNE["content_md"]).replace("'", "\x92"))
    with mirror() as site:
        Mirror.routes = {
            "/feed.xml": Reply(b'<?xml version="1.0" encoding="x-unknown"?><rss/>'),
            "/ca/cta-cap-co.json": Reply(b"[" * 100_000 + b"]" * 100_000),
            "/ca/cta-cap-pe.json": Reply(b"{%s}" % (b" " * 30), pace=0.2),  # 6 s: past 1 s
            "/uk": Reply(b"", 301, headers={"Location": "http://example.org/uk"}),
        }
        project.write_config(
            config_text(subscribers=READERS)
            + following(site).replace(f'url = "{site}{INDEX}"', f'url = "{site}/uk"')
            + f'\n[[sources]]\nkind = "canada"\ncountries = ["CO", "PE"]\nurl = "{site}/ca"\n'
            + "timeout = 1\n"
        )
        started = time.monotonic()
        bad = project.run("send")
        took = time.monotonic() - started
        Mirror.routes = {"/feed.xml": feed(mojibake)}
        good = project.run("send")
    assert bad.returncode == 0, bad.stderr
    assert sorted(bad.stderr.splitlines()) == [
        f"canada: {site}/ca/cta-cap-co.json: unreadable (RecursionError)",
        f"canada: {site}/ca/cta-cap-pe.json: timed out",
        "gov-uk: http://example.org/uk: refused: not https",
        f"us-state: {site}/feed.xml: unreadable (LookupError)",
    ]
    assert took < 10  # the trickle was cut at its timeout, not read to its end
    # Our own file went out all the same; then the feed's item, its cp1252 debris dropped.
    assert subjects(project)["dev@example.org"] == [
        "Venezuela travel advisory: Level 4 – Do not travel"
    ]
    assert good.returncode == 0 and "news for VE@us-state" in good.stderr, good.stderr
    us = [m for m in messages(project.outbox) if "(US)" in str(m["Subject"])]
    assert len(us) == 1 and "\x92" not in body(us[0]) and "Venezuela" in body(us[0])


def test_an_item_that_cannot_be_followed_is_told_and_read_again(tmp_path: Path) -> None:
    untitled = re.sub(r"<title>[^<]*</title>", "<title> </title>", rss_item(JUNE))
    with mirror() as site:
        config = followed(site, tmp_path / "s.sqlite3", kind="us-state", url=f"{site}/feed.xml")
        days = {0: {"/feed.xml": feed(untitled)}, 2: {"/feed.xml": feed(rss_item(JUNE))}}
        rounds = checks(config, tmp_path / "s.sqlite3", days)
    assert rounds[0].errors == [f"{site}/feed.xml: VE: title: must not be empty"]
    assert rounds[1].errors == rounds[0].errors  # read in full again, not hidden by a 304
    assert rounds[2].changed == ["VE@us-state"] and not rounds[2].errors
    assert ("/feed.xml", 304) not in Mirror.log[:2]


def test_a_file_cannot_hold_the_view_of_a_publisher_that_is_followed(project: Project) -> None:
    path = project.advisory("ve-us", VE.replace("country", 'publisher = "us-state"\ncountry', 1))
    project.write_config(
        config_text() + '[[sources]]\nkind = "files"\n\n[[sources]]\nkind = "us-state"\n'
    )
    result = project.run("check")
    assert result.returncode == 2
    assert result.stderr == f"{path}: publisher: us-state is followed in [[sources]]\n"


def test_the_files_source_follows_its_countries_too(project: Project) -> None:
    project.write_config(config_text() + '[[sources]]\nkind = "files"\ncountries = ["VE"]\n')
    result = project.run("send")
    assert result.returncode == 0, result.stderr
    # Ben follows every country: Colombia's file is there, but the service follows VE only.
    assert subjects(project)["ben@example.org"] == [
        "Venezuela travel advisory: Level 4 – Do not travel"
    ]


def test_gov_uk_advice_against_parts_reaches_a_level_3_reader_once(project: Project) -> None:
    """GOV.UK's real Turkey page of 2016 advises against all travel to part of the country
    only: the country stays at level 2, the part is a region at level 4."""
    page = (FIXTURES / "uk" / "govuk_travel_advice_parts_turkey_2016.json").read_bytes()
    with mirror() as site:
        Mirror.routes = {
            INDEX: Reply(json.dumps(gov_uk_index(Turkey="turkey")).encode()),
            f"{INDEX}/turkey": Reply(page),
        }
        chloe = 'countries = ["TR"]\nmin_level = 3\nformat = "alert"'
        readers = READERS.replace('countries = ["VE"]\nformat = "alert"', chloe)
        project.write_config(
            config_text(subscribers=readers)
            + f'[[sources]]\nkind = "gov-uk"\ncountries = ["TR"]\nurl = "{site}{INDEX}"\n'
        )
        first = project.run("send")
        again = project.run("send")  # the same page read again: nothing new
    assert first.returncode == 0, first.stderr
    assert again.stdout.startswith("nothing due (1 already sent)"), again.stdout
    [alert] = [parse(p.read_bytes()) for p in (project.outbox / "new").iterdir()]
    assert alert["To"] == "Chloé Martin <chloe@example.org>"
    assert alert["Subject"] == (
        "Türkiye (UK) travel advisory: Level 2 – Exercise increased caution, Level 4 in parts"
    )
    assert alert.get_content().startswith("TÜRKIYE (UK) L2 (L4 in parts) EXERCISE INCREASED")


def test_an_upgraded_state_keeps_a_flip_flop_quiet_past_the_window(tmp_path: Path) -> None:
    """A state kept before regions were read: VE's March and June texts alternating for
    longer than the noise window are still news on no day."""
    state = tmp_path / "s.sqlite3"
    [march], [june] = (us_state_advisories(rss(rss_item(x))) for x in (MARCH, JUNE))
    with mirror() as site:
        config = followed(site, state, kind="us-state", url=f"{site}/feed.xml")
        checks(config, state, {0: {"/feed.xml": feed(rss_item(JUNE))}})
        with sqlite3.connect(state) as db:  # as the state was before regions were read
            db.execute("DELETE FROM sightings")
            db.execute("DELETE FROM documents")
            db.executemany(
                "INSERT INTO sightings VALUES ('VE@us-state', ?, ?, NULL)",
                [(earlier_print(a), 1.8e9 - 86400) for a in (march, june)],
            )
            db.execute("UPDATE followed SET fingerprint = ?", (earlier_print(june),))
        days = {day: {"/feed.xml": feed(rss_item(MARCH if day % 2 else JUNE))}
                for day in range(1, 45)}  # fmt: skip
        rounds = checks(config, state, days, on=range(1, 45))
    assert [day for day, found in rounds.items() if found.changed] == []


def test_a_gov_uk_page_changed_under_the_same_date_is_its_minor_update(project: Project) -> None:
    """GOV.UK moves `public_updated_at` only for a major update: new words under the old
    date are held back from the reader who holds the page; a new date is told."""
    with mirror() as site:
        Mirror.routes = {INDEX: Reply(json.dumps(gov_uk_index(Venezuela="venezuela")).encode()),
                         f"{INDEX}/venezuela": uk(UK_L3)}  # fmt: skip
        only_uk = 'countries = ["VE"]\nformat = "alert"\nsources = ["gov-uk"]'
        project.write_config(
            config_text(subscribers=READERS.split("[[subscribers]]\nname = \"Ben")[0]
                        .replace('countries = ["VE", "CO"]', only_uk.rsplit("\n", 2)[0]))
            + f'[[sources]]\nkind = "gov-uk"\ncountries = ["VE"]\nurl = "{site}{INDEX}"\n'
        )  # fmt: skip
        assert "delivered 1" in project.run("send").stdout
        page = gov_uk_venezuela(UK_L3, "2026-07-01T19:10:05+01:00", note="A typo fixed.")
        Mirror.routes[f"{INDEX}/venezuela"] = Reply(json.dumps(page).encode())
        quiet = project.run("send")
        assert "held back as minor updates" in quiet.stdout, quiet.stdout + quiet.stderr
        page = gov_uk_venezuela(UK_L3, "2026-07-09T09:00:00+01:00", note="New advice.")
        Mirror.routes[f"{INDEX}/venezuela"] = Reply(json.dumps(page).encode())
        told = project.run("send")
    assert "due 1, delivered 1" in told.stdout, told.stdout + told.stderr

"""Daily and weekly readers: no alerts, one digest of their news per period, across
periods; the reminder for everyone still as it was; a raise to level 4 where a digest
reader travels goes at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email.message import EmailMessage

from support.project import CO, VE, Project, body, config_text, messages, smtp_section
from support.smtp import Server

from advisory.inputs import config as config_file
from advisory.run.counts import Counts
from advisory.run.plan import Digest, Purpose
from advisory.run.run import run
from advisory.state import open_store

READERS = """\
[[subscribers]]
name = "Ivo Immediate"
email = "ivo@example.org"
countries = ["VE", "CO"]
format = "text"

[[subscribers]]
name = "Dora Daily"
email = "dora@example.org"
countries = ["VE", "CO"]
frequency = "daily"
format = "text"

[[subscribers]]
name = "Walt Weekly"
email = "walt@example.org"
countries = ["VE", "CO"]
frequency = "weekly"
format = "text"
"""


def at(day: int, hour: int, month: int = 11) -> float:
    return datetime(2026, month, day, hour, tzinfo=UTC).timestamp()


def check(project: Project, now: float) -> Counts:
    return _run(project, Purpose("check"), now)


def digest(project: Project, which: Digest, now: float) -> Counts:
    return _run(project, Purpose("digest", digest=which), now)


def _run(project: Project, purpose: Purpose, now: float) -> Counts:
    config = config_file.load(project.config)
    with open_store(config.service.state) as store:
        return asyncio.run(run(config, purpose, store, clock=lambda: now))


def inbox(project: Project, who: str) -> list[EmailMessage]:
    """What `who` received, in the order it was written."""
    found = [m for m in messages(project.outbox) if m["To"].addresses[0].username == who]
    return sorted(found, key=lambda m: m["Date"].datetime)


def test_daily_and_weekly_readers_hear_once_per_period_of_their_news(project: Project) -> None:
    project.write_config(config_text(subscribers=READERS))
    monday = at(30, 9)  # Monday 30 November, after both digests' 08:00
    assert check(project, monday).delivered == 2  # Ivo: VE and CO; the others wait
    assert [len(inbox(project, w)) for w in ("dora", "walt")] == [0, 0]
    assert digest(project, "daily", monday).delivered == 1
    assert digest(project, "weekly", monday).delivered == 1
    [dora] = inbox(project, "dora")
    assert dora["Subject"] == "Travel advisory updates: Venezuela L4, Colombia L2"
    assert "VENEZUELA – LEVEL 4" in body(dora) and "COLOMBIA – LEVEL 2" in body(dora)
    # The same period again, later that day: nothing twice.
    assert digest(project, "daily", monday + 6 * 3600).due == 0
    assert check(project, monday + 6 * 3600).due == 0  # what the digests carried is held

    project.advisory("ve", VE.replace("level = 4", "level = 3"))
    tuesday = at(1, 9, month=12)
    assert check(project, tuesday).delivered == 1  # Ivo, at once
    assert digest(project, "weekly", tuesday).due == 0  # this week's was sent on Monday
    assert digest(project, "daily", tuesday).delivered == 1
    news = inbox(project, "dora")[-1]
    assert news["Subject"] == "Travel advisory updates: Venezuela L3"
    assert "Level lowered from 4 (Do not travel) to 3" in body(news)
    assert "COLOMBIA" not in body(news)  # not news: Dora holds it
    # Wednesday: nothing new, so no digest at all.
    assert digest(project, "daily", at(2, 9, month=12)).due == 0
    assert len(inbox(project, "dora")) == 2
    # The next Monday: Walt's week of news, told against what he held.
    assert digest(project, "weekly", at(7, 9, month=12)).delivered == 1
    walt = inbox(project, "walt")
    assert len(walt) == 2
    assert walt[-1]["Subject"] == "Travel advisory updates: Venezuela L3"
    assert "Level lowered from 4 (Do not travel) to 3" in body(walt[-1])
    assert len(inbox(project, "ivo")) == 3


def test_the_reminder_still_reaches_every_reader(project: Project) -> None:
    """`schedule.digest` as configs have it: every advisory standing, for everyone."""
    project.write_config(
        config_text(subscribers=READERS) + '\n[schedule]\ndigest = "0 8 * * MON"\n'
    )
    assert digest(project, "digest", at(30, 9)).delivered == 3
    for who in ("ivo", "dora", "walt"):
        [reminder] = inbox(project, who)
        assert reminder["Subject"] == "Travel advisories in force: Venezuela L4, Colombia L2"
    # A reminder is not news: the daily reader's digest still tells them both.
    assert digest(project, "daily", at(30, 9)).delivered == 1


def test_a_raise_to_level_four_where_a_digest_reader_travels_goes_at_once(
    project: Project,
) -> None:
    project.write_config(
        config_text(
            subscribers="""\
[[subscribers]]
name = "Walt Weekly"
email = "walt@example.org"
countries = ["VE"]
frequency = "weekly"
format = "text"
trips = [ { country = "CO", start = 2026-12-03, end = 2026-12-20 } ]
"""
        )
    )
    # The trip's window opens on 26 November: its briefing goes at once, whatever the
    # frequency; Venezuela waits for the weekly digest.
    counts = check(project, at(27, 9))
    assert counts.delivered == 1
    [briefing] = inbox(project, "walt")
    assert briefing["Subject"].startswith("Before your trip: Colombia travel advisory")
    # Colombia is raised, though not to 4: that waits too.
    project.advisory("co", CO.replace("level = 2", "level = 3"))
    assert check(project, at(28, 9)).due == 0
    # Raised to 4 in parts: at once, naming the trip.
    project.advisory("co", CO + '\n[[regions]]\nname = "Border areas"\nlevel = 4\n')
    assert check(project, at(29, 9)).delivered == 1
    alert = inbox(project, "walt")[-1]
    assert alert["Subject"] == (
        "Colombia travel advisory updated: Level 2 – Exercise increased caution, Level 4 in parts"
    )
    assert body(alert).startswith("You travel to Colombia from 3 to 20 December 2026.")
    # Venezuela, which he follows but is not travelling to, never went at once.
    assert all("Venezuela" not in m["Subject"] for m in inbox(project, "walt"))


def test_a_digest_retried_after_a_change_carries_what_it_finally_told(
    project: Project, smtpd: Server
) -> None:
    """Dora's digest is deferred, the advisory changes, the next check's retry tells the
    new version: that is the version she holds, so tomorrow's digest has nothing to tell."""
    project.write_config(
        config_text(delivery='transport = "smtp"', smtp=smtp_section(smtpd), subscribers=READERS)
    )
    monday = at(30, 9)
    smtpd.handler.refuse = {"dora@example.org": "451 4.3.0 Try later"}
    assert digest(project, "daily", monday).retrying == 1
    smtpd.handler.refuse = {}
    project.advisory("ve", VE.replace("level = 4", "level = 3"))
    assert check(project, monday + 3600).delivered == 3  # Ivo's two alerts, Dora's retry
    [dora] = smtpd.handler.to("dora@example.org")
    assert dora["Subject"] == "Travel advisory updates: Venezuela L3, Colombia L2"
    assert "VENEZUELA – LEVEL 3: RECONSIDER TRAVEL\r\n" in body(dora)  # a line of its own
    assert digest(project, "daily", at(1, 9, month=12)).due == 0


def test_a_minor_update_is_no_news_in_a_digest_and_the_next_change_tells_it(
    project: Project,
) -> None:
    project.write_config(config_text(subscribers=READERS))
    check(project, at(23, 9))
    digest(project, "weekly", at(23, 9))  # Walt's first: Venezuela and Colombia
    project.advisory("ve", VE.replace("Foreigners risk", "Visitors risk")
                     + 'update = "minor"\n')  # fmt: skip
    assert check(project, at(23, 10)).minor == 2  # Ivo and Walt hold the version before
    assert digest(project, "daily", at(24, 8)).due == 1  # Dora's first, of both
    assert digest(project, "weekly", at(30, 8)).due == 0  # nothing new for Walt
    project.advisory("ve", VE.replace("Foreigners risk", "Visitors risk")
                     .replace("level = 4", "level = 3"))  # fmt: skip
    assert digest(project, "weekly", at(30, 9)).due == 1  # a real change: news
    [*_, news] = inbox(project, "walt")
    told = body(news)
    assert "lowered" in told and "Visitors risk arbitrary arrest." in told  # the minor's text


def test_a_real_change_a_digest_reader_has_not_had_is_told_though_a_minor_one_followed(
    project: Project,
) -> None:
    project.write_config(config_text(subscribers=READERS))
    check(project, at(23, 9))
    digest(project, "weekly", at(23, 9))  # Walt holds v1
    real = VE.replace("Foreigners risk arbitrary arrest.", "Dual nationals were detained.")
    project.advisory("ve", real)
    check(project, at(24, 9))  # Ivo told of v2; Walt waits for Monday
    project.advisory("ve", real.replace("Dual nationals", "Dual-nationals") + 'update = "minor"\n')
    assert check(project, at(25, 9)).minor == 1  # Ivo, who holds v2; Walt missed v2
    assert digest(project, "weekly", at(30, 9)).due == 1
    [*_, news] = inbox(project, "walt")
    assert "+ Dual-nationals were detained." in body(news)

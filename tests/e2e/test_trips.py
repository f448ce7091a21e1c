"""Trips, as an operator runs them: `advisory send` in a subprocess against a real SMTP
server (STARTTLS), on days set by $ADVISORY_NOW: before a trip's window, inside it,
after it; one traveller on two trips; and who is exposed, in every format."""

from __future__ import annotations

import csv
import io
import json

import pytest
from support.project import VE, Project, body, config_text, smtp_section
from support.smtp import Server

TRAVELLERS = """\
[[subscribers]]
name = "Tara Traveller"
email = "tara@example.org"
countries = []
format = "html"
trips = [ { country = "VE", start = 2026-12-03, end = 2026-12-10 } ]

[[subscribers]]
name = "Paul Pager"
email = "paul@example.org"
format = "alert"
trips = [ { country = "VE", start = 2026-12-03, end = 2026-12-10 } ]

[[subscribers]]
name = "Stay Home"
email = "home@example.org"
countries = ["CO"]
min_level = 3
"""


@pytest.fixture
def travel(project: Project, smtpd_tls: Server) -> Project:
    project.write_config(
        config_text(
            delivery='transport = "smtp"', smtp=smtp_section(smtpd_tls), subscribers=TRAVELLERS
        )
    )
    return project


def send(project: Project, day: str) -> str:
    result = project.run("send", env={"ADVISORY_NOW": day})
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_trip_concerns_its_traveller_only_inside_its_window(
    travel: Project, smtpd_tls: Server
) -> None:
    # The window opens 7 days before 3 December, at midnight: the 25th is before it.
    assert "nothing due" in send(travel, "2026-11-25T23:59")
    assert smtpd_tls.handler.received == []

    assert "due 2, delivered 2" in send(travel, "2026-11-26T00:00")
    [tara] = smtpd_tls.handler.to("tara@example.org")
    assert tara["Subject"] == "Before your trip: Venezuela travel advisory: Level 4 – Do not travel"
    assert body(tara).splitlines()[0] == "You travel to Venezuela from 3 to 10 December 2026."
    html = body(tara, "html")
    assert html.index("You travel to Venezuela from 3 to 10 December 2026") < html.index(
        "Level 4 of 4"
    )
    [paul] = smtpd_tls.handler.to("paul@example.org")
    alert = body(paul).strip()
    assert alert.startswith("TRIP 3-10 DEC: VENEZUELA L4 DO NOT TRAVEL") and len(alert) <= 160
    # Once per trip: the next runs of the window send nothing again.
    assert "nothing due (2 already sent)" in send(travel, "2026-11-30")

    # During the trip, a change reaches the traveller as for a country they follow.
    travel.advisory("ve", VE.replace("Foreigners risk", "Foreigners, journalists among them, risk"))
    assert "due 2, delivered 2" in send(travel, "2026-12-05")
    update = smtpd_tls.handler.to("tara@example.org")[-1]
    assert update["Subject"].startswith("Venezuela travel advisory updated:")
    assert body(update).splitlines()[0] == "You are in Venezuela until 10 December 2026."

    # The window closes when the end day does: after it, the trip concerns nothing.
    travel.advisory("ve", VE.replace("level = 4", "level = 3"))
    assert "nothing due" in send(travel, "2026-12-11T00:00")
    assert len(smtpd_tls.handler.received) == 4
    checked = travel.run("check", env={"ADVISORY_NOW": "2026-12-11"})
    assert checked.returncode == 0, checked.stderr
    assert "2 trips ended: ignored" in checked.stdout


def test_a_traveller_is_briefed_for_each_trip_even_on_a_country_they_follow(
    travel: Project, smtpd_tls: Server
) -> None:
    travel.write_config(
        travel.config.read_text().replace(
            'countries = []\nformat = "html"\n'
            'trips = [ { country = "VE", start = 2026-12-03, end = 2026-12-10 } ]',
            'countries = ["VE"]\nformat = "text"\n'
            'trips = [ { country = "VE", start = 2026-12-03, end = 2026-12-10 },\n'
            '          { country = "VE", start = 2027-02-01, end = 2027-02-03 } ]',
        )
    )
    send(travel, "2026-11-01")  # a standing reader: the advisory, once
    send(travel, "2026-11-28")  # the first trip's briefing
    send(travel, "2026-12-20")  # between the trips: nothing
    send(travel, "2027-01-30")  # the second trip's briefing
    send(travel, "2027-01-31")
    got = smtpd_tls.handler.to("tara@example.org")
    assert [m["Subject"].startswith("Before your trip:") for m in got] == [False, True, True]
    assert body(got[0]).startswith("VENEZUELA – LEVEL 4")
    assert body(got[1]).startswith("You travel to Venezuela from 3 to 10 December 2026.")
    assert body(got[2]).startswith("You travel to Venezuela from 1 to 3 February 2027.")
    assert len({m["Message-ID"] for m in got}) == 3


def test_exposed_lists_the_travellers_in_every_format(travel: Project) -> None:
    travel.write_config(
        travel.config.read_text()
        + '\n[[subscribers]]\nname = "Cora Colombia"\nemail = "cora@example.org"\n'
        'min_level = 3\ntrips = [ { country = "CO", start = 2026-12-01, end = 2026-12-06 } ]\n'
    )
    send(travel, "2026-11-27")  # Tara and Paul briefed; Colombia (L2) is below Cora's 3
    now = {"ADVISORY_NOW": "2026-12-04"}

    table = travel.run("exposed", env=now)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == [
        "NAME",
        "EMAIL",
        "COUNTRY",
        "LEVEL",
        "START",
        "END",
        "DELIVERED",
        "ACKED",
    ]
    assert all(len(line) <= 100 for line in lines)
    assert lines[1].startswith("Paul Pager") and lines[1].split()[-2:] == ["yes", "-"]
    assert lines[3].startswith("Cora Colombia") and lines[3].split()[-2:] == ["NO", "-"]
    assert lines[-1] == "3 travellers now at level 1 or above"

    rows = list(csv.DictReader(io.StringIO(travel.run("exposed", "--format", "csv",
                                                      env=now).stdout)))  # fmt: skip
    assert [(r["email"], r["country"], r["level"], r["delivered"]) for r in rows] == [
        ("paul@example.org", "VE", "4", "true"),
        ("tara@example.org", "VE", "4", "true"),
        ("cora@example.org", "CO", "2", "false"),
    ]

    found = json.loads(
        travel.run("exposed", "--format", "json", "--min-level", "3", env=now).stdout
    )
    assert found == [
        {
            "name": "Paul Pager",
            "email": "paul@example.org",
            "country": "VE",
            "level": 4,
            "start": "2026-12-03",
            "end": "2026-12-10",
            "delivered": True,
            "acknowledged": None,
        },
        {
            "name": "Tara Traveller",
            "email": "tara@example.org",
            "country": "VE",
            "level": 4,
            "start": "2026-12-03",
            "end": "2026-12-10",
            "delivered": True,
            "acknowledged": None,
        },
    ]  # fmt: skip  (no [escalation] here: nobody was asked)
    # Cora's window opens on 24 November; nobody's is open on the 23rd.
    by_day = travel.run("exposed", "--at", "2026-11-24", "--country", "co", "--format", "json")
    assert [row["email"] for row in json.loads(by_day.stdout)] == ["cora@example.org"]
    by_day = travel.run("exposed", "--at", "2026-11-23", "--format", "json")
    assert json.loads(by_day.stdout) == []

    bad = travel.run("exposed", "--at", "4 December")
    assert bad.returncode == 2
    assert bad.stderr.strip() == "--at: '4 December' is not a date (YYYY-MM-DD)"


def test_a_briefing_not_delivered_is_renewed_by_a_new_version_and_told_once(
    travel: Project, smtpd_tls: Server
) -> None:
    """A briefing refused for good does not hold back what comes next in the window, and
    one waiting for a retry tells what is current when it goes, once."""
    smtpd_tls.handler.refuse = {"tara@example.org": "550 5.2.2 Mailbox full",
                                "paul@example.org": "451 4.3.0 Try later"}  # fmt: skip
    result = travel.run("send", env={"ADVISORY_NOW": "2026-11-28T00:00"})
    assert result.returncode == 1
    assert "1 queued for retry, 1 failed for good" in result.stdout
    smtpd_tls.handler.refuse = {}
    travel.advisory("ve", VE.replace("Foreigners have", "Foreigners, journalists among them, have"))
    retried = travel.run("retry", env={"ADVISORY_NOW": "2026-11-28T02:00"})
    assert "due 1, delivered 1" in retried.stdout  # Paul's, queued: a retry, renewed
    assert "due 1, delivered 1" in send(travel, "2026-11-28T02:00")  # Tara's: new, so send
    for who in ("tara", "paul"):
        [briefing] = smtpd_tls.handler.to(f"{who}@example.org")
        assert briefing["Subject"].startswith("Before your trip:")
        assert "journalists among them" in body(briefing)
    assert "nothing due (2 already sent)" in send(travel, "2026-11-28T03:00")
    # --force sends the briefing again, as the same message.
    first = smtpd_tls.handler.to("tara@example.org")[0]["Message-ID"]
    assert (
        "due 2, delivered 2"
        in travel.run("send", "--force", env={"ADVISORY_NOW": "2026-11-29"}).stdout
    )
    again = smtpd_tls.handler.to("tara@example.org")[-1]
    assert again["Message-ID"] == first and again["Subject"].startswith("Before your trip:")

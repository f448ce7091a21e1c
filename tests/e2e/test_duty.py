"""Duty of care, as an operator runs it: `advisory send` in a subprocess against a real
SMTP server, on instants set by $ADVISORY_NOW. Travellers' alerts ask for an
acknowledgement (and standing readers' do not); the desk's summary of who was told; one
reminder and one escalation per version, never twice; an unreachable traveller at once;
a confirmation by phone; and what `acks` and `exposed` say of it."""

from __future__ import annotations

import json
import re
import sqlite3
from email.message import EmailMessage

import pytest
from support.duty import DESK, SECRET, TRAVELLERS
from support.project import VE, Project, body, config_text, run_cli, smtp_section
from support.smtp import Server


@pytest.fixture
def duty(project: Project, smtpd: Server) -> Project:
    project.write_config(
        config_text(delivery='transport = "smtp"', smtp=smtp_section(smtpd),
                    subscribers=TRAVELLERS) + DESK
    )  # fmt: skip
    return project


def send(project: Project, at: str) -> str:
    result = project.run("send", env=SECRET | {"ADVISORY_NOW": at})
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def ack_link(message: EmailMessage) -> str | None:
    """The acknowledgement link of a message, the same in each of its parts."""
    parts = [body(message, "plain")]
    if message.get_body(preferencelist=("html",)) is not None:
        parts.append(body(message, "html"))
    found = {m for part in parts for m in re.findall(r"https://alerts\.example\.org/a(?:ck)?/"
                                                     r"[A-Za-z0-9_-]{22}", part)}  # fmt: skip
    assert len({link.rsplit("/", 1)[1] for link in found}) <= 1, found
    return min(found, default=None)


def desk(smtpd: Server) -> list[EmailMessage]:
    return smtpd.handler.to("duty@example.org")


def acks(project: Project, *args: str) -> list[dict[str, str]]:
    result = run_cli("acks", "--format", "json", *args, config=project.config)
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, str]] = json.loads(result.stdout)
    return rows


def test_travellers_are_asked_the_desk_is_told_then_reminded_and_escalated_once(
    duty: Project, smtpd: Server
) -> None:
    assert "due 5, delivered 5" in send(duty, "2026-12-01T09:00")
    people = ("tara@example.org", "ted@example.org", "paul@example.org", "home@example.org")
    asked = {addr: ack_link(smtpd.handler.to(addr)[0]) for addr in people}
    assert asked["home@example.org"] is None  # a standing interest, no trip: nothing to confirm
    assert all(asked[a] for a in ("tara@example.org", "ted@example.org", "paul@example.org"))
    html = body(smtpd.handler.to("tara@example.org")[0], "html")
    assert "I have read this – I am safe" in html
    pager = body(smtpd.handler.to("paul@example.org")[0])
    assert len(pager.strip()) <= 160 and pager.strip().endswith(asked["paul@example.org"] or "")
    assert "/a/" in pager  # the short form, whole, at the end of the 160 characters
    [summary] = desk(smtpd)
    assert summary["Subject"] == "Travellers told: 3 in Venezuela, Level 4 – Do not travel"
    told = body(summary)
    for name in ("Tara Traveller <tara@example.org>", "Ted Text", "Paul Pager"):
        assert name in told
    assert "Stay Home" not in told and "3 to 10 December 2026" in told

    # Ted confirms by phone; then, within `after`, nothing more.
    done = run_cli("ack", "ted@example.org", "--country", "ve", config=duty.config)
    assert done.returncode == 0 and "confirmed by phone" in done.stdout
    assert "nothing due" in send(duty, "2026-12-01T09:29")
    assert [row["email"] for row in acks(duty, "--pending")] == [
        "paul@example.org", "tara@example.org"]  # fmt: skip

    # Past `after`: one reminder each to Tara and Paul, one escalation naming both.
    assert "due 3, delivered 3" in send(duty, "2026-12-01T09:31")
    for address in ("tara@example.org", "paul@example.org"):
        [_, reminder] = smtpd.handler.to(address)
        assert reminder["Subject"].startswith("Reminder, please confirm: Venezuela")
        assert ack_link(reminder) is not None
    assert len(smtpd.handler.to("ted@example.org")) == 1
    [_, escalation] = desk(smtpd)
    assert (
        escalation["Subject"] == "Not confirmed: 2 travellers in Venezuela, Level 4 – Do not travel"
    )
    listed = body(escalation)
    assert "Tara Traveller <tara@example.org>" in listed and "Paul Pager" in listed
    assert "Ted" not in listed.split("Confirmed since")[0]
    assert "Ted Text <ted@example.org>" in listed.split("Confirmed since")[1]  # by phone, since
    assert "by phone" in listed and "reminded" in listed
    assert "delivered 1 December 2026, 09:00 UTC" in listed

    # Nobody twice for one version, however many runs follow.
    before = len(smtpd.handler.received)
    assert "nothing due" in send(duty, "2026-12-01T12:00")
    assert "nothing due" in send(duty, "2026-12-02T12:00")
    assert len(smtpd.handler.received) == before

    # A confirmation after the escalation reaches the desk at the next run, once.
    assert run_cli("ack", "paul@example.org", "--country", "VE",
                   config=duty.config).returncode == 0  # fmt: skip
    assert "due 1, delivered 1" in send(duty, "2026-12-02T12:15")
    [_, _, confirmed] = desk(smtpd)
    assert confirmed["Subject"] == "Confirmed: 1 traveller in Venezuela, Level 4 – Do not travel"
    assert "Paul Pager <paul@example.org>" in body(confirmed) and "Tara" not in body(confirmed)
    assert "<title>Confirmed: Venezuela</title>" in body(confirmed, "html")
    assert "nothing due" in send(duty, "2026-12-02T13:00")


def test_an_unreachable_traveller_is_escalated_at_once_with_the_servers_reply(
    duty: Project, smtpd: Server
) -> None:
    smtpd.handler.refuse["tara@example.org"] = "550 5.1.1 <tara@example.org>: no such mailbox"
    send(duty, "2026-12-01T09:00")
    subjects = sorted(m["Subject"] for m in desk(smtpd))
    assert subjects == [
        "Not confirmed or unreachable: 1 traveller in Venezuela, Level 4 – Do not travel",
        "Travellers told: 3 in Venezuela, Level 4 – Do not travel",
    ]
    [escalation] = [m for m in desk(smtpd) if "Not confirmed" in m["Subject"]]
    text = body(escalation)
    assert "Tara Traveller" in text and "550 5.1.1 <tara@example.org>: no such mailbox" in text
    assert "Unreachable" in body(escalation, "html")
    assert "Ted" not in text  # delivered, and not yet overdue


def test_a_later_summary_tells_the_new_traveller_and_the_confirmations_since(
    duty: Project, smtpd: Server
) -> None:
    duty.write_config(duty.config.read_text().replace("2026-12-04, end = 2026-12-12",
                                                      "2026-12-14, end = 2026-12-20"))  # fmt: skip
    send(duty, "2026-12-01T09:00")  # Tara and Paul now; Ted's window opens on the 7th
    assert run_cli("ack", "tara@example.org", "--country", "VE",
                   config=duty.config).returncode == 0  # fmt: skip
    send(duty, "2026-12-07T08:00")
    summaries = [m for m in desk(smtpd) if m["Subject"].startswith("Travellers told")]
    assert [m["Subject"].split(":")[1].split(",")[0] for m in summaries] == [
        " 2 in Venezuela", " 1 in Venezuela"]  # fmt: skip
    later = body(summaries[1])
    assert "Ted Text <ted@example.org>, trip 14 to 20 December 2026: delivered" in later
    assert "Tara Traveller <tara@example.org>" in later.split("Confirmed since")[1]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("nobody@example.org", "--country", "VE"),
         "nobody@example.org: no alert asked this address to confirm; nothing recorded"),
        (("home@example.org", "--country", "VE"),
         "home@example.org: no alert asked this address to confirm; nothing recorded"),
        (("tara@example.org", "--country", "CO"),
         "tara@example.org: no alert about Colombia (CO) asked them to confirm (only VE); "
         "nothing recorded"),
        (("tara@example.org", "--country", "XX"),
         "--country: 'XX' is not an ISO 3166-1 alpha-2 code"),
        (("not an address", "--country", "VE"), "'not an address': not a valid email address"),
    ],
)  # fmt: skip
def test_a_phone_confirmation_for_no_alert_is_refused_and_records_nothing(
    duty: Project, smtpd: Server, args: tuple[str, ...], said: str
) -> None:
    send(duty, "2026-12-01T09:00")
    result = run_cli("ack", *args, config=duty.config)
    assert (result.returncode, result.stderr.splitlines()) == (2, [said])
    assert all(row["acknowledged"] == "" for row in acks(duty))


def test_exposed_and_acks_say_who_confirmed(duty: Project, smtpd: Server) -> None:
    send(duty, "2026-12-01T09:00")
    run_cli("ack", "paul@example.org", "--country", "VE", "--note", "called his hotel",
            config=duty.config)  # fmt: skip
    rows = acks(duty, "--country", "VE")
    assert {(r["email"], r["how"]) for r in rows} == {
        ("tara@example.org", ""), ("ted@example.org", ""), ("paul@example.org", "phone")
    }  # fmt: skip
    exposed = run_cli("exposed", "--format", "json", config=duty.config,
                      env=SECRET | {"ADVISORY_NOW": "2026-12-05"})  # fmt: skip
    said = {row["email"]: row["acknowledged"] for row in json.loads(exposed.stdout)}
    assert said == {"tara@example.org": False, "ted@example.org": False, "paul@example.org": True}
    table = run_cli("acks", config=duty.config).stdout
    assert "3 travellers asked to confirm; 2 not yet" in table
    assert all(len(line) <= 100 for line in table.splitlines())
    [paul] = [line for line in table.splitlines() if line.startswith("Paul Pager")]
    assert paul.split()[-1] == "phone" and "VE" in paul.split()


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (lambda c: re.sub(r"\[http\]\n.*\n.*\n", "", c),
         "escalation: needs [http]: acknowledgements are made there"),
        (lambda c: re.sub(r"trips = .*\n", 'countries = ["VE"]\n',
                          c.replace("countries = []\n", "")),
         "escalation: no trips anywhere: acknowledgements are asked of travellers "
         "(subscribers' trips, or service.trips_file)"),
        (lambda c: c.replace('after = "30m"', 'after = "9s"'),
         "escalation.after: must be between 10 seconds and 7 days"),
        (lambda c: c.replace('after = "30m"', 'after = "8d"'),
         "escalation.after: must be between 10 seconds and 7 days"),
        (lambda c: c.replace('desk = "duty@example.org"', 'desk = "duty"'),
         "escalation.desk: not a valid email address"),
    ],
)  # fmt: skip
def test_a_bad_escalation_section_is_one_line_and_exit_2(
    duty: Project, smtpd: Server, change: object, said: str
) -> None:
    duty.write_config(change(duty.config.read_text()))  # type: ignore[operator]
    result = duty.run("send", env=SECRET)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"{duty.config}: {said}"]
    assert smtpd.handler.received == []


def test_a_desk_that_is_also_a_subscriber_gets_both(duty: Project, smtpd: Server) -> None:
    duty.write_config(duty.config.read_text().replace('desk = "duty@example.org"',
                                                      'desk = "home@example.org"'))  # fmt: skip
    send(duty, "2026-12-01T09:00")
    subjects = sorted(str(m["Subject"]) for m in smtpd.handler.to("home@example.org"))
    assert subjects == ["Travellers told: 3 in Venezuela, Level 4 – Do not travel",
                        "Venezuela travel advisory: Level 4 – Do not travel"]  # fmt: skip


def test_a_new_version_asks_afresh(duty: Project, smtpd: Server) -> None:
    send(duty, "2026-12-01T09:00")
    run_cli("ack", "tara@example.org", "--country", "VE", config=duty.config)
    duty.advisory("ve", VE.replace("Foreigners risk", "Visitors risk"))
    send(duty, "2026-12-01T10:00")
    [first, second] = smtpd.handler.to("tara@example.org")
    assert ack_link(first) != ack_link(second)
    assert [r["acknowledged"] for r in acks(duty) if r["email"] == "tara@example.org"] == [""]


def test_a_second_trip_under_the_same_version_asks_again_and_sending_goes_on(
    duty: Project, smtpd: Server
) -> None:
    """Two briefings of one version (two trips): one token, both alerts told to the desk,
    and one reminder and one escalation for the version, not one per trip."""
    duty.write_config(duty.config.read_text().replace(
        'trips = [ { country = "VE", start = 2026-12-03, end = 2026-12-10 } ]\n\n'
        '[[subscribers]]\nname = "Ted Text"',
        'trips = [ { country = "VE", start = 2026-12-03, end = 2026-12-05 },\n'
        '          { country = "VE", start = 2026-12-20, end = 2026-12-25 } ]\n\n'
        '[[subscribers]]\nname = "Ted Text"', 1))  # fmt: skip
    send(duty, "2026-12-01T09:00")
    send(duty, "2026-12-01T09:31")  # reminded, and escalated with the others
    assert "due 2, delivered 2" in send(duty, "2026-12-14T09:00")  # and the desk's summary
    first, _, second = smtpd.handler.to("tara@example.org")
    assert second["Subject"].startswith("Before your trip") and ack_link(second) == ack_link(first)
    assert "nothing due" in send(duty, "2026-12-14T10:00")  # not reminded, nor escalated again
    assert [m["Subject"].split(":")[0] for m in desk(smtpd)] == [
        "Travellers told", "Not confirmed", "Travellers told"]  # fmt: skip
    assert "Tara Traveller" in body(desk(smtpd)[2]) and "3 to 5 December" not in body(
        desk(smtpd)[2]
    )


def test_a_suppressed_traveller_is_not_reminded_but_the_desk_still_hears(
    duty: Project, smtpd: Server
) -> None:
    send(duty, "2026-12-01T09:00")
    assert run_cli("suppress", "tara@example.org", config=duty.config).returncode == 0
    send(duty, "2026-12-01T09:31")
    assert len(smtpd.handler.to("tara@example.org")) == 1  # the alert, no reminder
    [_, escalation] = desk(smtpd)
    assert "Tara Traveller <tara@example.org>" in body(escalation)
    assert "nothing due" in send(duty, "2026-12-01T10:31")


def test_a_raise_to_level_four_asks_a_weekly_traveller_at_the_next_check(
    duty: Project, smtpd: Server
) -> None:
    duty.advisory("ve", VE.replace("level = 4", "level = 3"))
    weekly = 'email = "ted@example.org"\nfrequency = "weekly"'
    duty.write_config(duty.config.read_text().replace('email = "ted@example.org"', weekly))
    send(duty, "2026-12-01T09:00")
    [briefing] = smtpd.handler.to("ted@example.org")  # at once, whatever the frequency
    assert ack_link(briefing) is None  # level 3: below escalation.min_level
    duty.advisory("ve", VE)
    send(duty, "2026-12-01T09:15")  # the next check: the raise does not wait for Monday
    [_, raised] = smtpd.handler.to("ted@example.org")
    assert "raised to Level 4" in raised["Subject"] and ack_link(raised) is not None


def test_a_reminder_after_the_secret_changed_carries_a_link_that_works(
    duty: Project, smtpd: Server
) -> None:
    """Its token is the one the endpoint will find: made and recorded with today's key."""
    send(duty, "2026-12-01T09:00")
    rotated = {
        "ADVISORY_TOKEN_SECRET": "another-secret-of-twenty",
        "ADVISORY_NOW": "2026-12-01T09:31",
    }
    assert duty.run("send", env=rotated).returncode == 0
    [alert, reminder] = smtpd.handler.to("tara@example.org")
    token = (ack_link(reminder) or "").rsplit("/", 1)[1]
    assert token != (ack_link(alert) or "").rsplit("/", 1)[1]
    with sqlite3.connect(duty.state) as db:
        recorded = db.execute("SELECT token FROM told WHERE recipient = 'tara@example.org'")
        assert [row[0] for row in recorded] == [token]


def test_the_desk_hears_whatever_the_suppression_list_says(duty: Project, smtpd: Server) -> None:
    """The desk's messages are the service's own: no list to leave, no link to leave it.
    Here the desk is also a subscriber, who unsubscribed from the alerts."""
    duty.write_config(duty.config.read_text().replace('desk = "duty@example.org"',
                                                      'desk = "home@example.org"'))  # fmt: skip
    assert run_cli("suppress", "home@example.org", config=duty.config).returncode == 0
    send(duty, "2026-12-01T09:00")
    [summary] = smtpd.handler.to("home@example.org")  # no alert; the desk's summary
    assert summary["Subject"].startswith("Travellers told")
    assert summary["List-Unsubscribe"] is None and "nsubscribe" not in body(summary)


def test_a_reminder_queued_for_a_reader_suppressed_since_is_cancelled(
    duty: Project, smtpd: Server
) -> None:
    send(duty, "2026-12-01T09:00")
    smtpd.handler.refuse["tara@example.org"] = "451 4.3.0 try later"
    send(duty, "2026-12-01T09:31")  # Tara's reminder waits for its retry
    assert run_cli("suppress", "tara@example.org", config=duty.config).returncode == 0
    del smtpd.handler.refuse["tara@example.org"]
    send(duty, "2026-12-01T10:31")
    assert len(smtpd.handler.to("tara@example.org")) == 1  # the alert alone
    with sqlite3.connect(duty.state) as db:
        [(status,)] = db.execute("SELECT status FROM messages WHERE kind = 'reminder' "
                                 "AND recipient = 'tara@example.org'")  # fmt: skip
    assert status == "cancelled"

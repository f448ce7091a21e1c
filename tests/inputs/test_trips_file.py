"""Trips, inline and in `service.trips_file`: every mistake named on one line with exit 2
and nothing sent; the file streamed, in flat memory; the window in the service's time."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from support.project import Project, config_text

from advisory.cli import main
from advisory.domain.models import Subscriber, Trip
from advisory.domain.trips import Travel, line, short

TRAVELLER = """\
[[subscribers]]
name = "Tara Traveller"
email = "tara@example.org"
countries = []
trips = [ { country = "VE", start = 2026-12-03, end = 2026-12-10 } ]
"""


def errors(project: Project, capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main(["send", "--config", str(project.config)]) == 2
    assert not project.state.exists() and not project.outbox.exists()  # nothing sent
    return capsys.readouterr().err.splitlines()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("end = 2026-12-10", "end = 2026-12-01"), "trips[0].end: the trip ends before it starts"),
        (("end = 2026-12-10", "end = 2027-11-26"),  # 359 days, and the week before
         "trips[0].end: a year or more from the window's opening, with its lead of 7 days: "
         "list the country in countries"),
        (('country = "VE"', 'country = "XX"'),
         "trips[0].country: not an ISO 3166-1 alpha-2 country code"),
        (("start = 2026-12-03", 'start = "3 Dec"'),
         "trips[0].start: expected a date, e.g. 2026-12-03"),
        (("end = 2026-12-10", "end = 9999-12-31"),
         "trips[0].end: expected a date in the years 2000 to 2999"),
        (("countries = []", 'countries = []\nfrequency = "hourly"'),
         "frequency: expected 'immediate', 'daily' or 'weekly'"),
        (("trips = [ { country", "# trips = [ { country"),
         "countries: empty, and no trips: list a country or a trip"),
    ],
)  # fmt: skip
def test_a_bad_trip_is_named_and_nothing_is_sent(
    project: Project, capsys: pytest.CaptureFixture[str], change: tuple[str, str], expected: str
) -> None:
    project.write_config(config_text(subscribers=TRAVELLER.replace(*change)))
    assert errors(project, capsys) == [f"{project.config}: subscribers[0].{expected}"]


def with_trips(project: Project, rows: str, subscribers: str = TRAVELLER) -> Path:
    path = project.root / "trips.csv"
    path.write_text("email,country,start,end\n" + rows, encoding="utf-8")
    project.write_config(
        config_text(subscribers=subscribers).replace(
            'timezone = "UTC"', 'timezone = "UTC"\ntrips_file = "trips.csv"'
        )
    )
    return path


def test_every_bad_row_of_the_trips_file_is_named_by_line(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    path = with_trips(
        project,
        "tara@example.org,VE,2027-01-04,2027-01-09\n"
        "nobody@example.org,VE,2027-01-04,2027-01-09\n"
        "TARA@example.org,VE,2027-01-09,2027-01-04\n"
        "tara@example.org,ZZ,2027-01-04,4 Jan\n"
        "tara@example.org,VE,2027-01-04,2028-01-04\n"
        "not-an-address,VE,2027-01-04,2027-01-09\n",
    )
    assert errors(project, capsys) == [
        f"{path}:3: email: not a subscriber",
        f"{path}:4: end: the trip ends before it starts",
        f"{path}:5: country: not an ISO 3166-1 alpha-2 country code",
        f"{path}:5: end: expected a date, e.g. 2026-12-03",
        f"{path}:6: end: a year or more from the window's opening, with its lead of 7 days: "
        "list the country in countries",
        f"{path}:7: email: not a valid email address",
    ]


def test_a_subscriber_may_have_their_trips_in_the_file_only(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    bare = TRAVELLER.replace("trips = [", "# trips = [")
    nobody = bare.replace("tara", "nora").replace("Tara", "Nora")
    with_trips(project, "tara@example.org,VE,2027-01-04,2027-01-09\n", bare + "\n" + nobody)
    # Tara's trip is in the file; Nora has neither countries nor trips.
    assert errors(project, capsys) == [
        f"{project.config}: subscribers[1].countries: empty, and no trips: list a country or a trip"
    ]


def test_the_trips_file_is_checked_with_the_wrong_header_named(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    path = with_trips(project, "")
    path.write_text("email,country,from,to\n", encoding="utf-8")
    assert errors(project, capsys) == [
        f"{path}: line 1: unknown column 'from'",
        f"{path}: line 1: unknown column 'to'",
        f"{path}: line 1: missing column 'start'",
        f"{path}: line 1: missing column 'end'",
    ]


def peak_rss_kib(argv: list[str]) -> int:
    """The peak resident memory of a command, measured in a process of its own."""
    probe = (
        "import resource, subprocess, sys\n"
        "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "assert done.returncode == 0, done.stderr\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True,
                         timeout=300, check=True)  # fmt: skip
    return int(out.stdout)


def test_a_trips_file_of_100000_rows_is_read_in_flat_memory(project: Project) -> None:
    """10,000 travellers with 10 trips each, against 3,000 with 10: the same memory.
    (Past the first few chunks of a plan, which set the high-water mark of any run.)"""
    config = project.config

    def write(travellers: int) -> list[str]:
        people = project.root / "people.csv"
        with people.open("w", encoding="utf-8") as f:
            f.write("name,email,countries\n")
            f.writelines(f"P {i},p{i}@example.org,CO\n" for i in range(travellers))
        with (project.root / "trips.csv").open("w", encoding="utf-8") as f:
            f.write("email,country,start,end\n")
            for i in range(travellers):
                first = date(2026, 1, 1) + timedelta(days=i % 300)
                f.writelines(
                    f"p{i}@example.org,VE,{first + timedelta(days=40 * n)},"
                    f"{first + timedelta(days=40 * n + 5)}\n"
                    for n in range(10)
                )
        project.write_config(
            config_text(subscribers="").replace(
                'timezone = "UTC"',
                'timezone = "UTC"\nsubscribers_file = "people.csv"\ntrips_file = "trips.csv"',
            )
        )
        return [sys.executable, "-m", "advisory", "check", "--config", str(config)]

    small = peak_rss_kib(write(3_000))
    large = peak_rss_kib(write(10_000))
    assert large - small < 4 * 1024, f"{small} KiB for 30,000 trips, {large} KiB for 100,000"


def test_the_window_opens_the_lead_before_the_start_in_the_service_time_zone() -> None:
    trip = Trip(country="VE", start=date(2026, 12, 3), end=date(2026, 12, 10))
    caracas = Travel(timedelta(days=7), "America/Caracas")  # UTC-4
    opens, closes = caracas.window(trip)
    assert datetime.fromtimestamp(opens, UTC) == datetime(2026, 11, 26, 4, tzinfo=UTC)
    assert datetime.fromtimestamp(closes, UTC) == datetime(2026, 12, 11, 4, tzinfo=UTC)
    assert not caracas.is_open(trip, opens - 1) and caracas.is_open(trip, opens)
    assert caracas.is_open(trip, closes - 1) and not caracas.is_open(trip, closes)
    assert caracas.is_closed(trip, closes)
    # No lead: the window is the trip's own days.
    assert Travel(timedelta(0)).window(trip)[0] == datetime(2026, 12, 3, tzinfo=UTC).timestamp()
    traveller = Subscriber(name="T", email="t@example.org", trips=(trip, trip.model_copy(
        update={"start": date(2026, 12, 5)})))  # fmt: skip
    assert caracas.open_trips(traveller, opens) == {"VE": trip}  # the earliest


@pytest.mark.parametrize(
    ("start", "end", "today", "said", "tag"),
    [
        ((2026, 12, 3), (2026, 12, 10), (2026, 11, 28),
         "You travel to Venezuela from 3 to 10 December 2026", "TRIP 3-10 DEC"),
        ((2026, 11, 28), (2026, 12, 3), (2026, 11, 25),
         "You travel to Venezuela from 28 November to 3 December 2026", "TRIP 28 NOV-3 DEC"),
        ((2026, 12, 30), (2027, 1, 2), (2026, 12, 25),
         "You travel to Venezuela from 30 December 2026 to 2 January 2027", "TRIP 30 DEC-2 JAN"),
        ((2026, 12, 3), (2026, 12, 3), (2026, 12, 1),
         "You travel to Venezuela on 3 December 2026", "TRIP 3 DEC"),
        ((2026, 12, 3), (2026, 12, 10), (2026, 12, 3),
         "You are in Venezuela until 10 December 2026", "IN COUNTRY TO 10 DEC"),
    ],
)  # fmt: skip
def test_a_message_names_the_trip(
    start: tuple[int, int, int],
    end: tuple[int, int, int],
    today: tuple[int, int, int],
    said: str,
    tag: str,
) -> None:
    trip = Trip(country="VE", start=date(*start), end=date(*end))
    assert line(trip, date(*today)) == said
    assert short(trip, date(*today)) == tag

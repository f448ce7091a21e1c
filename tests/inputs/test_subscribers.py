"""Subscribers from a CSV file (`service.subscribers_file`), streamed and validated."""

from __future__ import annotations

import csv
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.project import Project, config_text, many, smtp_section
from support.smtp import Server

from advisory.cli import main
from advisory.domain.models import Subscriber, Trip
from advisory.inputs import config as config_file
from advisory.inputs import subscribers
from advisory.inputs.subscribers import read_roster

HEADER = "name,email,countries,min_level,format\n"


def with_csv(project: Project, rows: str, inline: str = "") -> str:
    path = project.root / "people.csv"
    path.write_text(HEADER + rows, encoding="utf-8")
    project.write_config(
        config_text(subscribers=inline).replace(
            'timezone = "UTC"', 'timezone = "UTC"\nsubscribers_file = "people.csv"'
        )
    )
    return str(path)


def test_csv_subscribers_receive_alerts(project: Project) -> None:
    with_csv(
        project,
        "Zoë Ñúñez,zoe@example.org,VE CO,1,text\n"
        '"Okafor, Ben",ben@example.org,*,,\n'
        "Far Away,far@example.org,JP,1,html\n",
    )
    result = project.run("send")
    assert result.returncode == 0, result.stderr
    # Zoë: VE and CO; Ben (defaults: level 1, html): VE and CO; Far Away: nothing.
    assert "due 4, delivered 4" in result.stdout


def test_bad_csv_rows_are_all_reported_with_line_numbers(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    path = with_csv(
        project,
        "Good,good@example.org,VE,3,html\n"
        "Bad mail,not-an-address,VE,3,html\n"
        "Bad level,lvl@example.org,VE,high,html\n"
        "Again,GOOD@example.org,VE,3,html\n"
        "Nowhere,no@example.org,,3,html\n",
        inline='[[subscribers]]\nname = "Inline"\nemail = "in@example.org"\ncountries = ["VE"]\n',
    )
    assert main(["send", "--config", str(project.config)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{path}:3: email: not a valid email address",
        f"{path}:4: min_level: expected a level from 1 to 4",
        f"{path}:5: email: address listed twice",
        f"{path}:6: countries: empty, and no trips: list a country or a trip",
    ]
    assert not project.state.exists()


def test_csv_with_unknown_column(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    path = project.root / "people.csv"
    with_csv(project, "")
    path.write_text("name,email,countries,phone\n", encoding="utf-8")
    assert main(["check", "--config", str(project.config)]) == 2
    assert capsys.readouterr().err.splitlines() == [f"{path}: line 1: unknown column 'phone'"]


def test_spreadsheet_csv_with_bom_is_read(project: Project) -> None:
    with_csv(project, "Zoë,zoe@example.org,VE,1,text\n")
    path = project.root / "people.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    result = project.run("send")
    assert result.returncode == 0, result.stderr
    assert "due 1, delivered 1" in result.stdout


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"name,email,countries,email\n", "line 1: column 'email' appears twice"),
        (HEADER.encode() + b"A,a@example.org,VE,1,html\nB\xff,b@example.org,VE,1,html\n",
         "3: not valid UTF-8"),
        (HEADER.encode() + "A,a@example.org,VE,²,html\n".encode(),
         "2: min_level: expected a level from 1 to 4"),
    ],
)  # fmt: skip
def test_csv_mistakes(
    project: Project, capsys: pytest.CaptureFixture[str], content: bytes, expected: str
) -> None:
    with_csv(project, "")
    path = project.root / "people.csv"
    path.write_bytes(content)
    assert main(["check", "--config", str(project.config)]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line in (f"{path}: {expected}", f"{path}:{expected}")


def test_a_csv_sources_column_limits_whose_advisories_arrive(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    path = project.root / "people.csv"
    path.write_text(
        "name,email,countries,sources\n"
        "Ours,ours@example.org,VE,files\n"
        "US only,us@example.org,VE,us-state\n"
        "Both,both@example.org,VE,files us-state\n",
        encoding="utf-8",
    )
    project.write_config(
        config_text(subscribers="").replace(
            'timezone = "UTC"', 'timezone = "UTC"\nsubscribers_file = "people.csv"'
        )
    )
    result = project.run("send")
    assert result.returncode == 0, result.stderr
    assert "due 2, delivered 2" in result.stdout  # the files' VE to Ours and Both; no US view
    path.write_text(path.read_text() + "Bad,bad@example.org,VE,bbc\n", encoding="utf-8")
    assert main(["check", "--config", str(project.config)]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"{path}:5: sources[0]: ")


def test_a_list_replaced_during_a_run_is_not_half_read(project: Project, smtpd: Server) -> None:
    """The list checked is the list sent to: the CSV is read once, however long the run."""
    many(project, 2100, smtp_section(smtpd, connections="4"))
    other = project.root / "other.csv"
    rows = "".join(f"Other {i},o{i}@example.org,VE,1,text\n" for i in range(2000))
    other.write_text(f"name,email,countries,min_level,format\n{rows}a broken row\n")
    argv = [sys.executable, "-m", "advisory", "send", "--config", str(project.config)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not smtpd.handler.received:
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.005)
    # Written over in place while the first chunks are being sent (as an export does).
    (project.root / "people.csv").write_bytes(other.read_bytes())
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    assert "due 2100, delivered 2100" in out
    received = {r.rcpt_tos[0] for r in smtpd.handler.received}
    assert received == {f"p{i}@example.org" for i in range(2100)}


def test_a_line_without_end_is_never_read_whole(project: Project) -> None:
    """A CSV of 4 GiB with no line break (a sparse file: it costs no disk)."""
    people = project.root / "people.csv"
    with people.open("wb") as f:
        f.write(b"name,email,countries\n")
        f.truncate(4 * 2**30)
    project.write_config(
        config_text(subscribers="").replace(
            'timezone = "UTC"', 'timezone = "UTC"\nsubscribers_file = "people.csv"'
        )
    )

    def small_memory() -> None:  # a reader holding the line would need 4 GiB
        resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))

    argv = [sys.executable, "-m", "advisory", "check", "--config", str(project.config)]
    result = subprocess.run(
        argv, capture_output=True, text=True, timeout=60, preexec_fn=small_memory, check=False
    )
    assert (result.returncode, result.stderr) == (2, f"{people}:2: line longer than 80 KB\n")


def test_a_row_that_cannot_be_read_keeps_the_problems_found_before_it(project: Project) -> None:
    path = with_csv(project, "Eve,eve@,VE,1,text\nAl,al@example.org,VE,1,text\n")
    with Path(path).open("ab") as f:
        f.write(b"Bo,bo@example.org,V\xffE,1,text\n")
    result = project.run("check")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{path}:2: email: not a valid email address",
        f"{path}:4: not valid UTF-8",
    ]


def test_csv_readers_choose_their_frequency(project: Project) -> None:
    people = project.root / "people.csv"
    with_csv(project, "")
    people.write_text(
        "name,email,countries,frequency\n"
        "Dora,dora@example.org,VE,daily\nWalt,walt@example.org,VE,weekly\n"
        "Ivo,ivo@example.org,VE,\nHal,hal@example.org,VE,hourly\n",
        encoding="utf-8",
    )
    bad = project.run("check")
    assert (bad.returncode, bad.stderr) == (
        2, f"{people}:5: frequency: expected 'immediate', 'daily' or 'weekly'\n"
    )  # fmt: skip
    people.write_text(people.read_text().replace(",hourly", ",immediate"))
    result = project.run("send")
    assert "due 2, delivered 2" in result.stdout  # Ivo and Hal; the others wait for digests
    checked = project.run("check").stdout
    assert '1 reader of the daily digest: sent by `advisory serve` ("0 8 * * *")' in checked
    assert "1 reader of the weekly digest" in checked


def _kept(project: Project) -> list[Path]:
    return sorted((project.root / "state.sqlite3.lists").glob("*"))


def test_a_list_checked_is_kept_for_the_next_run_and_replaced_when_edited(
    project: Project,
) -> None:
    with_csv(project, "Ana,ana@example.org,VE,1,text\n")
    assert project.run("check").returncode == 0
    assert not (project.root / "state.sqlite3.lists").exists()  # (a check only reads)
    assert "due 1, delivered 1" in project.run("send").stdout
    [kept] = _kept(project)
    made = kept.stat().st_mtime_ns
    assert "nothing due (1 already sent)" in project.run("send").stdout
    assert project.run("check").returncode == 0
    assert _kept(project) == [kept] and kept.stat().st_mtime_ns == made  # opened, not made
    with_csv(project, "Ana,ana@example.org,VE,1,text\nBo,bo@example.org,VE,1,text\n")
    assert "due 1, delivered 1" in project.run("send").stdout  # Bo
    [again] = _kept(project)
    assert again != kept
    assert again.stat().st_mode & 0o077 == 0 or again.parent.stat().st_mode & 0o077 == 0


def test_a_kept_list_damaged_or_gone_is_read_again(project: Project) -> None:
    with_csv(project, "Ana,ana@example.org,VE,1,text\n")
    assert "due 1, delivered 1" in project.run("send").stdout
    [kept] = _kept(project)
    kept.write_bytes(b"not a list" * 100)
    with_csv(project, "Ana,ana@example.org,VE,1,text\n")  # (the same list)
    result = project.run("send", "--force")
    assert result.returncode == 0 and "due 1, delivered 1" in result.stdout, result.stderr
    [again] = _kept(project)
    again.unlink()
    assert "due 1, delivered 1" in project.run("send", "--force").stdout
    assert len(_kept(project)) == 1


def test_a_list_with_a_problem_is_never_kept(project: Project) -> None:
    with_csv(project, "Ana,ana@example.org,VE,1,text\nBad,bad@,VE,1,text\n")
    assert project.run("send").returncode == 2
    kept = project.root / "state.sqlite3.lists"
    assert not kept.exists() or not any(kept.iterdir())


def test_the_readers_of_a_few_countries_are_looked_up_with_their_trips(project: Project) -> None:
    (project.root / "trips.csv").write_text(
        "email,country,start,end\n"
        "tia@example.org,CO,2026-12-04,2026-12-09\numa@example.org,JP,2026-12-04,2026-12-09\n"
    )
    inline = (
        '[[subscribers]]\nname = "Vic"\nemail = "vic@example.org"\ncountries = ["VE"]\n\n'
        '[[subscribers]]\nname = "Tia"\nemail = "tia@example.org"\ncountries = []\n'
    )
    with_csv(project, "Ana,ana@example.org,VE,1,text\nBo,bo@example.org,CO,1,text\n"
                      "Cy,cy@example.org,*,1,text\nUma,uma@example.org,,1,text\n"
                      "Di,di@example.org,VE CO,1,text\n", inline=inline)  # fmt: skip
    project.write_config(project.config.read_text().replace(
        'subscribers_file = "people.csv"', 'subscribers_file = "people.csv"\n'
                                           'trips_file = "trips.csv"'))  # fmt: skip
    config = config_file.load(project.config)
    for keep in (False, True, True):  # read; read and kept; opened as kept
        with read_roster(config, keep=keep) as roster:
            assert len(roster) == 7
            co = roster.of({"CO"})
            assert [s.name for s in co] == ["Tia", "Bo", "Cy", "Di"] and len(co) == 4
            jp = roster.of(["JP"])
            assert [(s.name, [t.country for t in s.trips]) for s in jp] == [
                ("Cy", []), ("Uma", ["JP"])]  # fmt: skip
            assert [s.name for s in roster.of(["VE", "CO"])] == [
                "Vic", "Tia", "Ana", "Bo", "Cy", "Di"]  # fmt: skip
    assert len(_kept(project)) == 1


def _sent_and_kept(project: Project, country: Callable[[int], str]) -> Path:
    """300 readers sent to: the list kept of them."""
    with_csv(project, "".join(f"P {i},p{i}@example.org,{country(i)},1,text\n" for i in range(300)))
    assert "due 300, delivered 300" in project.run("send").stdout
    [kept] = _kept(project)
    return kept


def test_a_kept_list_damaged_inside_stops_the_run_in_one_line_and_is_read_again(
    project: Project,
) -> None:
    kept = _sent_and_kept(project, lambda i: "VE")
    data = bytearray(kept.read_bytes())
    data[len(data) // 2 :] = b"\xff" * (len(data) - len(data) // 2)  # its rows, not its sizes
    kept.write_bytes(bytes(data))
    broken = project.run("send")
    assert broken.returncode == 1 and "Traceback" not in broken.stderr, broken.stderr
    assert broken.stderr.startswith(f"{kept}: cannot read the checked list: "), broken.stderr
    assert broken.stderr.strip().endswith("it is read again from its files at the next run")
    assert not kept.exists()
    assert project.run("send").stdout.strip() == "nothing due (300 already sent)"


def test_a_kept_list_cut_short_or_damaged_where_a_check_looks_readers_up_is_read_again(
    project: Project,
) -> None:
    kept = _sent_and_kept(project, lambda i: "CO" if i % 3 else "VE")
    assert "nothing due (300 already sent)" in project.run("send").stdout  # (kept as quiet)
    size = kept.stat().st_size
    with kept.open("r+b") as f:  # cut short: not opened at all, and read again
        f.truncate(size // 2)
    co = project.root / "advisories" / "co.toml"
    co.write_text(co.read_text().replace("level = 2", "level = 3"))
    result = project.run("send")
    assert "due 200, delivered 200" in result.stdout, result.stderr
    assert _kept(project) == [kept] and kept.stat().st_size == size  # (made again)
    # Damaged where only a check of a few countries reads: who follows what (page 6).
    with kept.open("r+b") as f:
        f.seek(5 * 4096)
        f.write(b"\xff" * 4096)
    co.write_text(co.read_text().replace("level = 3", "level = 4"))
    broken = project.run("send")
    assert broken.returncode == 1 and "Traceback" not in broken.stderr, broken.stderr
    assert broken.stderr.startswith(f"{kept}: cannot read the checked list: "), broken.stderr
    assert not kept.exists()
    assert "due 200, delivered 200" in project.run("send").stdout


FIELD = st.sampled_from(["", "a", "b@example.org", "A@Example.org", " x ", '"q,1"', '"l\nm"', "VE"])


@settings(max_examples=400, deadline=None)
@given(lines=st.lists(st.lists(FIELD, max_size=7).map(",".join), max_size=8),
       shard=st.sampled_from([None, subscribers.Shard(0, 2), subscribers.Shard(1, 2)]))  # fmt: skip
def test_rows_are_read_as_the_csv_module_reads_them(
    tmp_path_factory: pytest.TempPathFactory, lines: list[str], shard: subscribers.Shard | None
) -> None:
    """Blank lines, short and long rows, quoted fields: each row (of the shard) as
    csv.DictReader gives it, at its line."""
    path = tmp_path_factory.mktemp("csv") / "people.csv"
    path.write_text("name,email,countries\n" + "\n".join(lines) + "\n", encoding="utf-8")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        expected = [
            (f"{path}:{reader.line_num}", row) for row in reader
            if shard is None or type(row["email"]) is not str or row["email"] in shard
        ]  # fmt: skip
    columns = ("name", "email", "countries")
    assert list(subscribers._rows(path, columns, ("name",), shard)) == expected


def test_problems_are_told_in_the_file_s_order_and_stop_at_a_hundred(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """Addresses listed twice among other problems, beyond the first rows checked
    together: each where it is, and the reading stops at the hundredth."""
    good = "".join(f"P {i},person{i}@example.org,VE,1,html\n" for i in range(600))
    again = "".join(f"P {i},Person{i}@example.org,VE,1,html\n" for i in range(1, 200))
    bad = "Bad,not-an-address,VE,1,html\nP 0,person0@EXAMPLE.org,VE,1,html\n"
    bad += "L,l@example.org,VE,9,html\n"
    path = with_csv(project, good + bad + again)
    assert main(["check", "--config", str(project.config)]) == 2
    told = capsys.readouterr().err.splitlines()
    assert told[:3] == [
        f"{path}:602: email: not a valid email address",
        f"{path}:603: email: address listed twice",
        f"{path}:604: min_level: expected 1, 2, 3 or 4",
    ]
    assert told[3:100] == [f"{path}:{n}: email: address listed twice" for n in range(605, 702)]
    assert told[100:] == [f"{path}: stopped after 100 problems"]


def test_a_hundred_problems_of_any_kind_stop_the_reading_after_the_row_of_the_hundredth(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = "".join(f"B {i},bad{i},VE,1,html\n" for i in range(98))
    path = with_csv(project, bad + "C,worse,VE,9,nope\n" + bad)
    assert main(["check", "--config", str(project.config)]) == 2
    told = capsys.readouterr().err.splitlines()
    assert told[98:] == [
        f"{path}:100: email: not a valid email address",
        f"{path}:100: min_level: expected 1, 2, 3 or 4",
        f"{path}:100: format: expected 'html', 'text' or 'alert'",
        f"{path}: stopped after 100 problems",
    ]


def test_a_reader_kept_and_read_back_is_the_reader_checked() -> None:
    """Every field as validation made it, in its order, trips included (`trusted`)."""
    subs = [
        Subscriber.model_validate(data)
        for data in (
            {"name": "Zoë  Ñúñez", "email": "Zoe@Example.org", "countries": ["ve", "CO", "VE"]},
            {"name": "Ana", "email": "ana@example.org", "countries": ["*"], "min_level": 3,
             "format": "alert", "sources": ["gov-uk", "files"], "frequency": "weekly"},
            {"name": "Ben", "email": "ben@example.org", "format": "text", "frequency": "daily"},
        )
    ]  # fmt: skip
    trip = Trip(country="FR", start=date(2026, 12, 24), end=date(2027, 1, 2))
    with subscribers.Roster() as roster:
        for sub in subs:
            roster.add(sub, None if sub.countries else "people.csv:4: countries: none")
        assert roster.added() == []
        assert roster.add_trip(subs[2].key, trip)
        roster.seal()
        back = list(roster)
    expected = [*subs[:2], subs[2].model_copy(update={"trips": (trip,)})]
    assert back == expected and [repr(b) for b in back] == [repr(e) for e in expected]
    assert [hash(b) for b in back] == [hash(e) for e in expected]
    for b in back:
        assert list(b.__dict__) == list(Subscriber.model_fields)
        assert b.model_fields_set == set(Subscriber.model_fields)

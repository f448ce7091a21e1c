"""Subscribers from a CSV file (`service.subscribers_file`), streamed and validated."""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.project import Project, config_text, many, smtp_section
from support.smtp import Server

from advisory.cli import main

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

"""The state file under accidents and a failing disk: never a fresh start by mistake, never a
traceback, nothing marked sent that was not written, and private to its owner."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.project import Project, config_text, messages


def test_an_emptied_state_file_is_refused_and_nothing_is_sent_again(project: Project) -> None:
    assert project.run("send").returncode == 0
    project.state.write_bytes(b"")  # `: > state.sqlite3`
    for command in ("send", "status"):
        result = project.run(command)
        assert result.returncode == 2, (command, result.stdout)
        [line] = result.stderr.splitlines()
        assert line.startswith(f"{project.state}: the state file is empty (0 bytes)")
        assert "advisory state init" in line
    assert len(messages(project.outbox)) == 4


def test_a_state_file_removed_where_runs_have_been_is_refused(project: Project) -> None:
    assert project.run("send").returncode == 0
    project.state.unlink()  # a failed restore, an `rm` in the wrong folder
    for command in ("send", "status"):
        result = project.run(command)
        assert result.returncode == 2, (command, result.stdout)
        assert f"{project.state}: the state file is missing, where runs have been" in result.stderr
    assert project.run("state", "init").returncode == 0
    assert "due 4, delivered 4" in project.run("send").stdout


def test_a_state_file_without_our_tables_is_refused(project: Project) -> None:
    assert project.run("send").returncode == 0
    project.state.unlink()
    with sqlite3.connect(project.state) as db:  # a valid SQLite file, with no state in it
        db.execute("CREATE TABLE t (x)")
        db.execute("DROP TABLE t")
    result = project.run("send")
    assert result.returncode == 2
    assert "the state file is without any state in it, where runs have been" in result.stderr
    assert len(messages(project.outbox)) == 4


def test_state_init_starts_over_on_purpose_but_never_over_a_state(project: Project) -> None:
    assert project.run("send").returncode == 0
    refused = project.run("state", "init")
    assert refused.returncode == 2
    assert (
        refused.stderr.strip()
        == f"{project.state}: is not empty (a state, or another file); not replaced"
    )
    project.state.write_bytes(b"")
    made = project.run("state", "init")
    assert made.returncode == 0, made.stderr
    assert "new, empty state" in made.stdout
    again = project.run("send")  # everything due again, as asked
    assert "due 4, delivered 4" in again.stdout
    assert len(messages(project.outbox)) == 4  # the Maildir knows each delivery's file


def test_a_first_run_makes_the_state_and_keeps_it_private(project: Project) -> None:
    assert not project.state.exists()
    os.umask(0o022)
    assert project.run("send").returncode == 0
    for path in (project.state, Path(f"{project.state}.lock")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for folder in (project.outbox, *(project.outbox / sub for sub in ("tmp", "new", "cur"))):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    for message in (project.outbox / "new").iterdir():
        assert stat.S_IMODE(message.stat().st_mode) == 0o600
    # WAL journal files take the state file's mode while a run holds them open.
    with sqlite3.connect(project.state) as db:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("CREATE TABLE IF NOT EXISTS scratch (x)")
        wal = Path(f"{project.state}-wal")
        assert stat.S_IMODE(wal.stat().st_mode) == 0o600


def test_a_damaged_state_file_is_one_line_and_exit_2(project: Project) -> None:
    assert project.run("send").returncode == 0
    data = bytearray(project.state.read_bytes())
    page = 4096
    assert len(data) > 3 * page
    data[page : len(data)] = b"\xa5" * (len(data) - page)  # every page but the header's
    project.state.write_bytes(bytes(data))
    for command in ("send", "status"):
        result = project.run(command)
        assert result.returncode == 2, (command, result.stderr)
        assert "Traceback" not in result.stderr
        [line] = result.stderr.splitlines()
        assert line.startswith(str(project.state)), line
    assert len(messages(project.outbox)) == 4


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs: a disk that fills up for real."""
    mount = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path, leave: int = 0) -> Path:
    """Take every free byte of `disk` but `leave`; the ballast file, to free it again."""
    ballast = disk / "ballast"
    with ballast.open("wb", buffering=0) as f:
        with contextlib.suppress(OSError):
            while True:
                f.write(b"\0" * 4096)
        f.truncate(max(0, f.tell() - leave))
    return ballast


def test_a_full_maildir_disk_sends_nothing_leaves_no_debris_and_recovers(
    project: Project, small_disk: Path
) -> None:
    project.write_config(
        project.config.read_text().replace('maildir = "outbox"', f'maildir = "{small_disk}/box"')
    )
    assert project.run("send", "--dry-run").returncode == 0
    (small_disk / "box").mkdir()
    ballast = fill(small_disk)
    result = project.run("send")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "No space left on device" in result.stderr and "will retry" in result.stderr
    assert list((small_disk / "box" / "tmp").iterdir()) == []  # no empty files left
    assert list((small_disk / "box" / "new").iterdir()) == []
    assert "sent 0 · queued 4" in project.run("status").stdout  # nothing marked sent
    ballast.unlink()
    with sqlite3.connect(project.state) as db:  # as if the minute of back-off had passed
        db.execute("UPDATE messages SET next_attempt = 0")
    assert project.run("retry").returncode == 0
    assert len(messages(small_disk / "box")) == 4


def test_a_disk_that_fills_under_the_state_mid_run_is_one_line_and_nothing_unrecorded(
    project: Project, small_disk: Path
) -> None:
    state = small_disk / "state.sqlite3"
    rows = "".join(f"P {i},p{i}@example.org,VE,1,text\n" for i in range(400))
    (project.root / "people.csv").write_text(f"name,email,countries,min_level,format\n{rows}")
    project.write_config(
        config_text(subscribers="").replace(
            'state = "state.sqlite3"', f'state = "{state}"\nsubscribers_file = "people.csv"'
        )
    )
    ballast = fill(small_disk, leave=(224 + 76) * 1024)  # room to start, not to finish
    # (76 KiB of it for the list checked, kept beside the state: `*.lists`)
    result = project.run("send")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert (
        result.stderr.splitlines()[0] == f"{state}: cannot write the state file: the disk is full"
    )
    written = {m["To"].addresses[0].addr_spec for m in messages(project.outbox)}
    with sqlite3.connect(f"{state.as_uri()}?mode=ro", uri=True) as db:
        sent = {r for (r,) in db.execute("SELECT recipient FROM messages WHERE status = 'sent'")}
    assert sent <= written and len(written) < 400  # nothing marked sent that was not written
    ballast.unlink()
    again = project.run("send")
    assert again.returncode == 0, again.stderr
    assert len(messages(project.outbox)) == 400  # everyone once


def test_a_list_with_no_room_to_be_kept_beside_the_state_is_read_as_before(
    project: Project, small_disk: Path
) -> None:
    state = small_disk / "state.sqlite3"
    people = project.root / "people.csv"
    people.write_text("name,email,countries,min_level,format\nAna,ana@example.org,VE,1,text\n")
    project.write_config(
        config_text(subscribers="").replace(
            'state = "state.sqlite3"', f'state = "{state}"\nsubscribers_file = "people.csv"'
        )
    )
    assert "due 1, delivered 1" in project.run("send").stdout
    kept = small_disk / "state.sqlite3.lists"
    first = sorted(kept.iterdir())
    rows = "".join(f"P {i},p{i}@example.org,VE,1,text\n" for i in range(1500))
    people.write_text(f"name,email,countries,min_level,format\n{rows}")  # ~290 KB checked
    ballast = fill(small_disk, leave=128 * 1024)  # room for the state, not for the list
    result = project.run("send", "--country", "CO")  # (nobody reads CO: the state stays)
    assert (result.returncode, result.stdout.strip()) == (0, "nothing due"), result.stderr
    assert sorted(kept.iterdir()) == first  # (and nothing half-written)
    ballast.unlink()
    assert "due 1500, delivered 1500" in project.run("send").stdout
    [again] = kept.iterdir()
    assert [again] != first


def test_a_lists_folder_that_cannot_be_written_leaves_the_list_read_as_before(
    project: Project,
) -> None:
    folder = project.root / "state.sqlite3.lists"
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)],
                          capture_output=True, check=False)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        people = project.root / "people.csv"
        people.write_text("name,email,countries,min_level,format\nAna,ana@example.org,VE,1,text\n")
        project.write_config(config_text(subscribers="").replace(
            'timezone = "UTC"', 'timezone = "UTC"\nsubscribers_file = "people.csv"'))  # fmt: skip
        result = project.run("send")
        assert (result.returncode, result.stderr) == (0, ""), result.stderr
        assert "due 1, delivered 1" in result.stdout
        assert project.run("send").stdout.strip() == "nothing due (1 already sent)"
        assert list(folder.iterdir()) == []
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)

"""Maildir delivery, read back as any mail client would."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import subprocess
from pathlib import Path

from support.project import ROOT, Project, body, messages, run_cli

from advisory.inputs.advisory_files import load_advisories
from advisory.mail.compose import message_key


def test_send_writes_a_standard_maildir(project: Project) -> None:
    result = project.run("send")
    assert result.returncode == 0, result.stderr
    box = messages(project.outbox)
    assert sorted(m["To"] for m in box) == [
        "Ana Pérez <ana@example.org>",
        "Ben Okafor <ben@example.org>",
        "Ben Okafor <ben@example.org>",
        "Duty pager <pager@example.org>",
    ]
    assert list((project.outbox / "tmp").iterdir()) == []
    assert len(list((project.outbox / "new").iterdir())) == 4
    again = project.run("send")
    assert "nothing due" in again.stdout
    assert len(messages(project.outbox)) == 4


def test_a_file_already_delivered_is_not_written_twice(project: Project) -> None:
    """The crash window: the file was written but the outbox never said so."""
    assert project.run("send").returncode == 0
    project.state.write_bytes(b"")
    assert project.run("state", "init").returncode == 0  # the record of it is gone
    result = project.run("send")
    assert "due 4, delivered 4" in result.stdout
    assert len(messages(project.outbox)) == 4


def test_forced_resend_is_a_new_copy(project: Project) -> None:
    assert project.run("send").returncode == 0
    assert project.run("send", "--force").returncode == 0
    assert len(messages(project.outbox)) == 8


def test_shipped_example_delivers_the_venezuela_advisory(tmp_path: Path) -> None:
    """What `make run` does, on a copy of the shipped config: Venezuela to its three
    readers, the regional Colombia example to those it reaches, and the traveller's
    briefing (her trip's window is open until 28 November 2027)."""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    config = tmp_path / "config" / "advisory.toml"
    now = {"ADVISORY_NOW": "2026-12-01"}
    result = run_cli("send", config=config, env=now)
    assert result.returncode == 0, result.stderr
    assert "due 7, delivered 7, failed 0" in result.stdout
    box = messages(tmp_path / "var" / "outbox")
    venezuela = [m for m in box if "Venezuela" in m["Subject"]]
    assert {m["To"].addresses[0].username for m in venezuela} == {"ana", "ben", "pager"}
    colombia = [m for m in box if "Colombia" in m["Subject"]]
    # Level 2, level 4 in parts: Ana (level 3 and up) has it too.
    assert {m["To"].addresses[0].username for m in colombia} == {"ana", "ben", "dana"}
    assert all("Level 4 in parts" in m["Subject"] for m in colombia)
    [dana] = [m for m in colombia if m["To"].addresses[0].username == "dana"]
    assert dana["Subject"].startswith("Before your trip: Colombia travel advisory")
    assert (
        body(dana).splitlines()[0]
        == "You travel to Colombia from 7 December 2026 to 28 November 2027."
    )
    assert "Border departments (fictional): Level 4" in body(dana)
    check = run_cli("check", config=config, env=now)
    assert check.returncode == 0 and "nothing due (7 already sent)" in check.stdout
    exposed = run_cli("exposed", "--format", "json", config=config, env=now)
    assert [(row["email"], row["delivered"]) for row in json.loads(exposed.stdout)] == [
        ("dana@example.org", True)
    ]


def test_readme_commands_exist() -> None:
    make = subprocess.run(
        ["make", "-n", "run", "test"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert make.returncode == 0, make.stderr
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("make test")


def test_make_run_installs_the_runtime_only() -> None:
    """The test tools come with `make test`, not with the service."""
    dry = ["make", "-n", "-B", "VENV=/nonexistent/venv"]
    run = subprocess.run([*dry, "run"], cwd=ROOT, capture_output=True, text=True, check=True)
    test = subprocess.run([*dry, "test"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "pip install --quiet -e .\n" in run.stdout
    assert "[test]" not in run.stdout
    assert "pip install --quiet -e '.[test]'" in test.stdout


def _delivery_name(project: Project, address: str, fmt: str) -> str:
    """The file name the Maildir gives `address`'s first Venezuela alert."""
    [ve] = [a for a in load_advisories(project.root / "advisories") if a.country == "VE"]
    key = message_key(address, ve.version, fmt)
    digest = hashlib.sha256(f"{key}#0".encode()).hexdigest()[:24]
    return f"{digest}.{socket.gethostname().replace('/', '_').replace(':', '_')}"


def test_nothing_of_anyone_else_is_followed_overwritten_or_taken_as_ours(
    project: Project, tmp_path: Path
) -> None:
    """Where someone else can write into the Maildir: a link planted where the old name in
    tmp/ was, and a file of theirs under the name a delivery takes in new/."""
    victim = tmp_path / "victim"
    victim.write_text("someone's file")
    for sub in ("tmp", "new", "cur"):
        (project.outbox / sub).mkdir(parents=True)
    ana = _delivery_name(project, "ana@example.org", "html")
    ben = _delivery_name(project, "pager@example.org", "alert")
    (project.outbox / "tmp" / ana).symlink_to(victim)
    (project.outbox / "new" / ben).write_text("Message-ID: <not-this-one@example.org>\n\nx\n")
    result = project.run("send")
    assert result.returncode == 1
    assert f"new/{ben} exists and is not this message; not overwritten" in result.stderr
    assert victim.read_text() == "someone's file"
    assert (project.outbox / "new" / ben).read_text().startswith("Message-ID: <not-this-one")
    assert (project.outbox / "tmp" / ana).is_symlink()  # theirs, left alone
    status = project.run("status").stdout
    assert "sent 3 · queued 0 · failed 1" in status and "pager@example.org VE alert" in status
    assert len(list((project.outbox / "new").iterdir())) == 4  # three of ours and theirs

"""Maildir delivery, read back as any mail client would."""

from __future__ import annotations

import hashlib
import json
import re
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
    """What `make run` does, on a copy of the shipped config (with the secret the
    Makefile sets): Venezuela to its three readers and its traveller, whose alert asks
    them to confirm; the regional Colombia example to those it reaches; the travellers'
    briefings (their windows are open until 28 November 2027); the desk's summaries. Not
    confirmed 30 minutes later, the next run reminds them and tells the desk."""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    config = tmp_path / "config" / "advisory.toml"
    makefile = (ROOT / "Makefile").read_text()
    [secret] = re.findall(r"^run serve: export ADVISORY_TOKEN_SECRET \?= (\S+)$", makefile, re.M)
    now = {"ADVISORY_NOW": "2026-12-01T12:00", "ADVISORY_TOKEN_SECRET": secret}
    result = run_cli("send", config=config, env=now)
    assert result.returncode == 0, result.stderr
    assert "due 10, delivered 10, failed 0" in result.stdout
    box = messages(tmp_path / "var" / "outbox")
    venezuela = [m for m in box if "Venezuela travel advisory" in m["Subject"]]
    assert {m["To"].addresses[0].username for m in venezuela} == {"ana", "ben", "pager", "sam"}
    [sam] = [m for m in venezuela if m["To"].addresses[0].username == "sam"]
    assert "http://127.0.0.1:8080/ack/" in body(sam, "html")
    assert all("/ack/" not in body(m) for m in venezuela if m is not sam)
    desk = [m for m in box if m["To"].addresses[0].username == "duty"]
    assert sorted(m["Subject"].split(",")[0] for m in desk) == [
        "Travellers told: 1 in Colombia", "Travellers told: 1 in Venezuela"]  # fmt: skip
    later = run_cli("send", config=config, env=now | {"ADVISORY_NOW": "2026-12-01T12:31"})
    assert "due 4, delivered 4" in later.stdout, later.stderr
    box = messages(tmp_path / "var" / "outbox")
    [escalation] = [m for m in box if m["Subject"].startswith("Not confirmed: 1 traveller in Ven")]
    assert "Sam Ortiz <sam@example.org>" in body(escalation)
    assert len([m for m in box if m["To"].addresses[0].username == "sam"]) == 2  # a reminder
    colombia = [m for m in box if "Colombia travel advisory" in m["Subject"]
                and not m["Subject"].startswith("Reminder")]  # fmt: skip
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
    assert check.returncode == 0 and "nothing due (8 already sent)" in check.stdout
    exposed = run_cli("exposed", "--format", "json", config=config, env=now)
    assert [(row["email"], row["delivered"], row["acknowledged"])
            for row in json.loads(exposed.stdout)] == [
        ("dana@example.org", True, False), ("sam@example.org", True, False)]  # fmt: skip


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

"""The command line: check, preview, status, init, and the habits every command shares."""

from __future__ import annotations

import fcntl
import importlib.metadata
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from support.project import ROOT, Project, config_text, messages, parse, run_cli
from support.smtp import Server

import advisory


def test_check_reports_counts_and_what_would_be_sent(project: Project) -> None:
    result = project.run("check")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].endswith("ok: 4 subscribers, 2 advisories, templates ok, delivery by maildir")
    assert lines[1] == "would send 4 messages:"
    assert any("pager@example.org" in line and "Venezuela L4" in line for line in lines)
    assert not project.state.exists()


def test_preview_renders_one_message(project: Project, tmp_path: Path) -> None:
    result = project.run("preview", "--country", "ve", "--subscriber", "ANA@example.org")
    assert result.returncode == 0, result.stderr
    msg = parse(result.stdout.encode())
    assert msg["To"].addresses[0].display_name == "Ana Pérez"
    assert msg.get_content_type() == "multipart/alternative"

    out = tmp_path / "alert.eml"
    result = project.run("preview", "--country", "VE", "--format", "alert", "-o", str(out))
    assert result.returncode == 0 and result.stdout == ""
    alert = parse(out.read_bytes())
    assert alert.get_content().startswith("VENEZUELA L4 DO NOT TRAVEL")


def test_preview_to_a_folder_that_does_not_exist(project: Project, tmp_path: Path) -> None:
    target = tmp_path / "missing" / "x.eml"
    result = project.run("preview", "-o", str(target))
    assert (result.returncode, result.stderr) == (
        2, f"{target}: cannot write: No such file or directory\n",
    )  # fmt: skip


def test_preview_of_unknown_subscriber_or_country(project: Project) -> None:
    result = project.run("preview", "--subscriber", "nobody@example.org")
    assert (result.returncode, result.stderr) == (
        2, "--subscriber: no subscriber with that address\n",
    )  # fmt: skip
    result = project.run("preview", "--country", "FR")
    assert (result.returncode, result.stderr) == (2, "--country: no advisory for FR\n")


def test_status_before_and_after_sending(project: Project) -> None:
    before = project.run("status")
    assert before.returncode == 0
    assert "no state file yet" in before.stdout
    assert project.run("send").returncode == 0
    after = project.run("status")
    assert "sent 4 · queued 0 · failed 0 · cancelled 0" in after.stdout


def test_a_changed_subscription_cancels_what_is_still_queued(project: Project) -> None:
    """A queued retry for a format the subscriber no longer wants is cancelled, not sent late."""
    assert project.run("send").returncode == 0
    with sqlite3.connect(project.state) as db:
        db.execute("UPDATE messages SET status = 'queued', next_attempt = 0 WHERE format = 'alert'")
    project.write_config(project.config.read_text().replace('format = "alert"', 'format = "text"'))
    result = project.run("send")
    assert result.returncode == 0, result.stderr
    assert "due 1, delivered 1" in result.stdout
    status = project.run("status").stdout
    assert "sent 4 · queued 0 · failed 0 · cancelled 1" in status


def test_state_file_that_is_not_ours(project: Project) -> None:
    project.state.write_text("not a database at all, just some text " * 100)
    result = project.run("send")
    assert result.returncode == 2
    assert result.stderr.startswith(f"{project.state}: not a usable state file")
    assert "Traceback" not in result.stderr


def test_no_traceback_for_an_unknown_command() -> None:
    result = run_cli("launch")
    assert result.returncode == 2
    assert "invalid choice: 'launch'" in result.stderr


def test_preview_check_and_dry_run_show_a_stand_in_token_without_the_secret(
    project: Project,
) -> None:
    project.write_config(config_text(sender_extra='unsubscribe = "https://e.org/u?t={token}"'))
    preview = project.run("preview", "--format", "text")
    assert preview.returncode == 0, preview.stderr
    assert parse(preview.stdout.encode())["List-Unsubscribe"] == f"<https://e.org/u?t={'x' * 22}>"
    for command in (("check",), ("send", "--dry-run")):
        result = project.run(*command)
        assert result.returncode == 0, (command, result.stderr)
    refused = project.run("send")  # a real delivery needs the real tokens
    assert refused.returncode == 2
    assert "ADVISORY_TOKEN_SECRET is not set" in refused.stderr
    assert not project.outbox.exists()


def test_preview_never_writes_over_a_file_or_through_a_link(
    project: Project, tmp_path: Path
) -> None:
    mine, link = tmp_path / "mine.txt", tmp_path / "link.eml"
    mine.write_text("keep me")
    link.symlink_to(tmp_path / "elsewhere.txt")
    for target in (mine, link):
        result = project.run("preview", "-o", str(target))
        assert (result.returncode, result.stderr) == (2, f"{target}: exists; not overwritten\n")
    assert mine.read_text() == "keep me" and not (tmp_path / "elsewhere.txt").exists()


def test_a_reader_that_stops_reading_is_no_error(project: Project) -> None:
    """`advisory status | head -1`, with a pipe too small to hold what status says."""
    assert project.run("send").returncode == 0
    with sqlite3.connect(project.state) as db:  # a long status: 52 failed, 50 lines shown
        db.execute("UPDATE messages SET status = 'failed', last_error = ?", ("x" * 900,))
        db.execute(
            "INSERT INTO messages (key, kind, recipient, advisory, version, format, status, "
            "created_at, last_error) SELECT key || '-' || n, kind, recipient, advisory, version, "
            "format, status, created_at, last_error FROM messages, (WITH RECURSIVE c(n) AS "
            "(SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 12) SELECT n FROM c)"
        )
    read, write = os.pipe()
    fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, 4096)
    argv = [sys.executable, "-m", "advisory", "status", "--config", str(project.config)]
    proc = subprocess.Popen(argv, stdout=write, stderr=subprocess.PIPE, cwd=ROOT)
    os.close(write)
    with os.fdopen(read, "rb") as reader:
        assert reader.readline().strip() == str(project.state).encode()
    _, err = proc.communicate(timeout=30)
    assert (proc.returncode, err) == (0, b"")  # 50 lines of 950 bytes met a closed pipe


def test_a_retry_set_before_the_clock_went_back_waits_no_longer_than_the_longest_delay(
    smtp_project: Project, smtpd: Server
) -> None:
    smtpd.handler.refuse["ana@example.org"] = "451 4.3.0 try again later"
    assert smtp_project.run("send").returncode == 1  # Ana's alert queued for a retry
    smtpd.handler.refuse.clear()
    with sqlite3.connect(smtp_project.state) as db:  # a day ahead: the clock was set back
        db.execute("UPDATE messages SET next_attempt = ? WHERE status = 'queued'",
                   (time.time() + 86400,))  # fmt: skip
    result = smtp_project.run("retry")
    assert result.returncode == 0, result.stderr
    assert "due 1, delivered 1" in result.stdout
    assert len(smtpd.handler.to("ana@example.org")) == 1


def test_commands_that_only_read_leave_no_files_behind(project: Project) -> None:
    assert project.run("send").returncode == 0
    before = sorted(p.name for p in project.root.iterdir())
    assert before == ["advisories", "advisory.toml", "outbox", "state.sqlite3",
                      "state.sqlite3.lock"]  # fmt: skip
    for args in (("check",), ("status",), ("send", "--dry-run"), ("sources",), ("preview",)):
        result = project.run(*args)
        assert result.returncode == 0, (args, result.stderr)
        assert sorted(p.name for p in project.root.iterdir()) == before, args


def test_check_names_an_advisory_file_it_does_not_read(project: Project) -> None:
    folder = project.root / "advisories"
    (folder / "ve.toml").rename(folder / "ve.tml")
    (folder / ".ve.toml.swp").write_text("an editor's")  # nobody's mistake: not named
    result = project.run("check")
    assert result.returncode == 0, result.stderr
    assert ": ok: 4 subscribers, 1 advisory, templates ok" in result.stdout
    ignored = [line for line in result.stdout.splitlines() if "ignored" in line]
    assert ignored == [f"{folder / 've.tml'}: ignored: only .toml files in the advisory folder "
                       "are read"]  # fmt: skip


def test_version_is_the_installed_one() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout == f"advisory {advisory.__version__}\n"
    assert importlib.metadata.version("advisory") == advisory.__version__


def test_config_goes_before_or_after_the_command(project: Project) -> None:
    after = run_cli("status", "--config", str(project.config))
    before = run_cli("--config", str(project.config), "status")
    assert after.returncode == before.returncode == 0, (after.stderr, before.stderr)
    assert before.stdout == after.stdout and "nothing has been sent" in before.stdout


def test_a_missing_config_says_how_to_point_at_one(tmp_path: Path) -> None:
    result = run_cli("check", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        "config/advisory.toml: no config file here; point at one with --config FILE or "
        "$ADVISORY_CONFIG, or write a starter with `advisory init DIR`\n"
    )


def test_init_writes_a_starter_that_runs_and_never_overwrites(tmp_path: Path) -> None:
    folder = tmp_path / "desk"
    first = run_cli("init", str(folder))
    assert first.returncode == 0, first.stderr
    config = folder / "advisory.toml"
    assert config.read_text().startswith("# advisory's config.")
    assert (folder / "advisories" / "ve.toml").exists()
    assert run_cli("check", config=config).returncode == 0
    sent = run_cli("send", config=config)
    assert (sent.returncode, sent.stdout) == (0, "due 1, delivered 1, failed 0\n"), sent.stderr
    [message] = messages(folder / "outbox")
    assert message["To"] == "Your Name <you@example.org>"
    config.write_text(config.read_text() + "# mine\n")
    again = run_cli("init", str(folder))
    assert again.returncode == 2
    assert f"{config}: exists; not overwritten" in again.stderr
    assert config.read_text().endswith("# mine\n")


def test_a_mistake_on_the_command_line_is_a_usage_error(project: Project) -> None:
    result = project.run("send", "--country", "ZZ")
    assert result.returncode == 2
    assert result.stderr == "--country: no advisory for ZZ\n"

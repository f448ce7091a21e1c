"""Editorial controls, as an operator uses them: `update = "minor"` records a version and
alerts nobody who holds an earlier one; the next real change is told against what each
reader holds, with its change note first and the sentences added and removed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support.project import ROOT, VE, Project, body, config_text, messages, run_cli, smtp_section
from support.smtp import Server

TYPO = VE.replace("Foreigners risk arbitrary arrest.", "Foreigners risk arbitary arrest.")
FIXED = VE.replace("Foreigners risk arbitrary arrest.", "Foreigners risk arbitrary arrest.")


def send(project: Project) -> str:
    result = project.run("send")
    assert result.returncode == 0, result.stderr
    return result.stdout


def to(project: Project, user: str, subject: str = "Venezuela") -> list[str]:
    return [body(m) for m in messages(project.outbox)
            if m["To"].addresses[0].username == user and subject in str(m["Subject"])]  # fmt: skip


def test_a_minor_update_alerts_nobody_and_the_next_change_says_what_changed_first(
    project: Project,
) -> None:
    send(project)  # Venezuela to Ana, Ben and the pager
    project.advisory("ve", TYPO.replace("Travel to Venezuela has long been advised against.",
                                        "Travel to Venezuela has long been advised against by"
                                        " us.") + 'update = "minor"\n')  # fmt: skip
    assert send(project) == "nothing due (1 already sent, 3 held back as minor updates)\n"
    # A reader who joins now gets the advisory as it stands, minor edit and all.
    di = '\n[[subscribers]]\nname = "Di"\nemail = "di@example.org"\ncountries = ["VE"]\n'
    project.write_config(project.config.read_text() + di + 'format = "text"\n')
    assert "due 1, delivered 1" in send(project)
    assert "advised against by us." in to(project, "di")[0]
    # The real change: raised risks, a change note, a new sentence.
    risks = 'risks = ["detention", "kidnapping"]'
    said = "Foreigners risk arbitary arrest. Kidnappings of visitors rose."
    note = 'change_note = "Kidnapping risk added after attacks on visitors."\n'
    project.advisory("ve", TYPO.replace('risks = ["detention"]', risks)
                     .replace("Foreigners risk arbitary arrest.", said) + note)  # fmt: skip
    assert "due 4, delivered 4" in send(project)
    [ben] = [b for b in to(project, "ben") if "WHAT CHANGED" in b]
    head, rest = ben.split("WHAT CHANGED")
    assert head.strip().endswith("Latest update: Kidnapping risk added after attacks on visitors.")
    assert "Risks added: Kidnapping or hostage-taking." in rest
    # Against what Ben holds (before the minor edit): its words are news to him now.
    added = rest.split("Added to the advice:")[1].split("No longer in the advice:")[0]
    assert (
        "+ Foreigners risk arbitary arrest." in added and "+ Kidnappings of visitors rose." in added
    )
    assert "- Foreigners risk arbitrary arrest." in rest.split("No longer in the advice:")[1]
    [pager] = [b for b in to(project, "pager") if "updated" in b]
    assert pager.startswith("VENEZUELA L4 DO NOT TRAVEL updated (+kidnapping)")
    [di] = [b for b in to(project, "di") if "WHAT CHANGED" in b]
    assert "  + Kidnappings of visitors rose." in di  # against what Di held: the minor
    assert "  - Travel to Venezuela has long been advised against by us." in di


def test_a_minor_update_that_changes_the_level_is_told_anyway(project: Project) -> None:
    send(project)
    project.advisory("ve", VE.replace("level = 4", "level = 3") + 'update = "minor"\n')
    assert "due 2, delivered 2" in send(project)  # Ana (level 3 and up) and Ben


def test_a_minor_update_after_an_undelivered_alert_still_tells_the_reader(
    project: Project, smtpd: Server
) -> None:
    project.write_config(config_text(delivery='transport = "smtp"', smtp=smtp_section(smtpd)))
    assert project.run("send").returncode == 0
    smtpd.handler.refuse["ben@example.org"] = "451 4.3.0 try again later"
    project.advisory("ve", VE.replace("level = 4", "level = 3"))  # Ben's alert waits for a retry
    assert project.run("send").returncode == 1
    project.advisory("ve", VE.replace("level = 4", "level = 3").replace("risk arbitrary", "risk")
                     + 'update = "minor"\n')  # fmt: skip
    del smtpd.handler.refuse["ben@example.org"]
    assert project.run("send", env={"ADVISORY_NOW": "2099-01-01"}).returncode in (0, 1)
    venezuela = [m for m in smtpd.handler.to("ben@example.org") if "Venezuela" in m["Subject"]]
    assert len(venezuela) == 2 and "lowered to Level 3" in str(venezuela[1]["Subject"])


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ('update = "small"', "update: expected 'major' or 'minor'"),
        ('change_note = "one\\ntwo"', "change_note: must be one line"),
        (f'change_note = "{"x" * 301}"', "change_note: expected at most 300 characters"),
    ],
)
def test_a_bad_editorial_field_is_one_line_and_exit_2(
    project: Project, line: str, said: str
) -> None:
    path = project.advisory("ve", VE + line + "\n")
    result = project.run("send")
    assert (result.returncode, result.stderr.splitlines()) == (2, [f"{path}: {said}"])
    assert not project.outbox.exists()


def test_on_the_shipped_example_a_minor_edit_then_a_change_note(tmp_path: Path) -> None:
    """The example's Venezuela file edited as minor: nothing sent; then with a change
    note: its readers see it first, with the sentences that changed."""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    config = tmp_path / "config" / "advisory.toml"
    secret = {"ADVISORY_TOKEN_SECRET": "a-secret-of-twenty-chars", "ADVISORY_NOW": "2026-12-01"}
    assert run_cli("send", config=config, env=secret).returncode == 0
    ve = tmp_path / "config" / "advisories" / "ve.toml"
    original = ve.read_text()
    ve.write_text(original.replace(
        "bargaining chips.\n\nTravel", "bargaining chips.\n\nTravel to Venezuela is, and has")
        + 'update = "minor"\n')  # fmt: skip
    quiet = run_cli("send", config=config, env=secret)
    assert quiet.stdout.startswith("nothing due") and "held back as minor updates" in quiet.stdout
    note = 'change_note = "Foreigners are now held for months without charge."\n'
    ve.write_text(original.replace("bargaining chips.\n\nTravel",
                                   "bargaining chips. They are held for months without charge."
                                   "\n\nTravel") + note)  # fmt: skip
    told = run_cli("send", config=config, env=secret)
    # Ana, Ben, the pager, Sam (who travels there), and the desk's summary of Sam's alert.
    assert "due 5, delivered 5" in told.stdout, told.stderr
    outbox = tmp_path / "var" / "outbox"
    [ana] = [m for m in messages(outbox) if m["To"].addresses[0].username == "ana"
             and "updated" in str(m["Subject"])]  # fmt: skip
    text = body(ana)
    assert text.index("Latest update: Foreigners are now held") < text.index("WHAT CHANGED")
    assert "+ They are held for months without charge." in text


def test_a_real_change_not_yet_told_is_told_though_a_minor_one_follows(project: Project) -> None:
    """A weekly reader holds v1; v2 is a real change they have not had yet; v3 a typo fix
    of it. Their digest tells v3, with v2's news: a minor update hides nothing real."""
    project.write_config(project.config.read_text() + '\n[[subscribers]]\nname = "Wes"\n'
                         'email = "wes@example.org"\ncountries = ["VE"]\nfrequency = "weekly"\n'
                         'format = "text"\n')  # fmt: skip
    send(project)
    real = VE.replace("Foreigners risk arbitrary arrest.", "Dual nationals were detained.")
    project.advisory("ve", real)
    assert "due 3, delivered 3" in send(project)  # Ana, Ben, the pager; Wes waits
    project.advisory("ve", real.replace("Dual nationals", "Dual-nationals") + 'update = "minor"\n')
    assert "held back as minor updates" in send(project)  # those three held v2
    project.advisory("ve", real.replace("Foreigners risk", "x") + 'update = "minor"\n')
    result = project.run("send", "--force")
    assert result.returncode == 0 and "held back" not in result.stdout  # --force sends again


def test_a_real_edit_then_a_minor_one_before_any_run_is_told(project: Project) -> None:
    send(project)
    real = VE.replace("Foreigners risk arbitrary arrest.", "Dual nationals were detained.")
    project.advisory("ve", real)
    project.run("check")  # seen, not sent: it reads only
    assert send(project).startswith("due 3, delivered 3")  # first send sees v2: told
    project.advisory("ve", real + 'update = "minor"\n')  # the same words, marked minor now
    project.advisory("ve", real.replace("Dual", "dual") + 'update = "minor"\n')
    assert "held back as minor updates" in send(project)

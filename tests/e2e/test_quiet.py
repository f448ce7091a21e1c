"""A run with nothing changed since a plan found nothing due is not planned again, and
every input that could make something due ends that: the list, the config, an advisory,
a suppression lifted, a trip's window opening at midnight, a retry's time coming."""

from __future__ import annotations

import asyncio
import re
import shutil
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from support.project import CO, VE, Project, config_text, messages
from support.rawsmtp import RawSmtp, raw_smtp
from support.serve import serving, wait_for

from advisory.inputs import config as config_file
from advisory.inputs.advisory_files import load_advisories
from advisory.run import quiet as quiet_plans
from advisory.run.counts import Counts
from advisory.run.plan import Purpose
from advisory.run.run import _keep, run
from advisory.state import open_store

UNCHANGED = "nothing changed since the last check"
CSV = "name,email,countries,min_level,format\nAna,ana@example.org,VE,1,text\n"


def send(project: Project, at: str = "2026-12-01T09:00") -> str:
    result = project.run("send", env={"ADVISORY_NOW": at})
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout.strip()


def quiet(project: Project, at: str = "2026-12-01T09:00") -> str:
    """Send until a run finds nothing changed: its summary."""
    first, second = send(project, at), send(project, at)
    assert first.startswith("nothing due") and UNCHANGED not in first, first
    assert second == f"{first}; {UNCHANGED}"
    return second


def listed(project: Project, rows: str = CSV) -> None:
    (project.root / "people.csv").write_text(rows, encoding="utf-8")
    project.write_config(
        config_text(subscribers="").replace(
            'timezone = "UTC"', 'timezone = "UTC"\nsubscribers_file = "people.csv"'
        )
    )


def test_a_run_with_nothing_changed_reports_what_the_last_plan_found(project: Project) -> None:
    assert send(project).startswith("due 4, delivered 4")
    assert quiet(project) == f"nothing due (4 already sent); {UNCHANGED}"
    assert len(messages(project.outbox)) == 4
    assert project.run("check").returncode == 0  # the checker still reads everything


def test_a_reader_added_to_the_list_is_planned_for(project: Project) -> None:
    listed(project)
    assert send(project).startswith("due 1, delivered 1")
    quiet(project)
    listed(project, CSV + "Ben,ben@example.org,VE,1,text\n")
    assert send(project).startswith("due 1, delivered 1")
    assert sorted(m["To"].addresses[0].addr_spec for m in messages(project.outbox)) == [
        "ana@example.org", "ben@example.org"]  # fmt: skip


def test_a_new_version_of_an_advisory_is_planned_for(project: Project) -> None:
    send(project)
    quiet(project)
    project.advisory("co", CO.replace("level = 2", "level = 3"))
    assert send(project).startswith("due 3, delivered 3")  # Ana, Ben and Chloé read CO


def test_the_config_changed_is_planned_for(project: Project) -> None:
    send(project)
    quiet(project)
    chloe = 'email = "chloe@example.org"\ncountries = ["CO"]\nmin_level = '
    project.write_config(config_text().replace(chloe + "3", chloe + "1"))
    assert send(project).startswith("due 1, delivered 1")  # Chloé now reads level 2


def test_a_suppression_lifted_lets_the_reader_hear_what_they_missed(project: Project) -> None:
    assert project.run("suppress", "ben@example.org").returncode == 0
    assert send(project).startswith("due 2, delivered 2")
    quiet(project)
    assert project.run("unsuppress", "ben@example.org").returncode == 0
    assert send(project).startswith("due 2, delivered 2")  # his VE and CO


def test_a_trips_window_opening_at_midnight_ends_the_quiet(project: Project) -> None:
    trip = (
        '[[subscribers]]\nname = "Tara"\nemail = "tara@example.org"\ncountries = []\n'
        'trips = [ { country = "VE", start = 2026-12-03, end = 2026-12-10 } ]\n'
    )
    project.write_config(config_text(subscribers=trip))
    # The window opens 7 days before 3 December, at midnight.
    assert send(project, "2026-11-25T21:00") == "nothing due"  # (a first run: nothing kept)
    assert quiet(project, "2026-11-25T22:00") == f"nothing due; {UNCHANGED}"
    assert send(project, "2026-11-25T23:59") == f"nothing due; {UNCHANGED}"
    assert send(project, "2026-11-26T00:00").startswith("due 1, delivered 1")
    [briefing] = messages(project.outbox)
    assert "Venezuela" in briefing["Subject"]


def test_a_retry_falls_due_however_quiet_the_inputs(project: Project) -> None:
    with raw_smtp(RawSmtp(pipelining=True, drop_after_end={"pager@example.org"})) as server:
        smtp = f'host = "127.0.0.1"\nport = {server.port}\nsecurity = "none"\ntimeout = 5'
        project.write_config(config_text(delivery='transport = "smtp"', smtp=smtp))
        assert send(project, "2026-12-01T09:00").startswith("due 4, delivered 3")
        assert quiet(project, "2026-12-01T09:00:01") == (
            f"nothing due (3 already sent, 1 waiting for a retry); {UNCHANGED}"
        )
        assert send(project, "2026-12-01T10:00").startswith("due 1, delivered 1")
    assert len(server.accepted) == 4


def test_a_forced_send_is_never_skipped(project: Project) -> None:
    send(project)
    quiet(project)
    digest = project.run("send", "--force", env={"ADVISORY_NOW": "2026-12-01T09:00"})
    assert "due 4" in digest.stdout  # --force is never skipped


def test_serve_skips_quiet_checks_and_hears_of_a_reader_added(project: Project) -> None:
    listed(project)
    with serving(project, "--check-every", "0.3") as proc:
        lines: list[str] = []
        assert proc.stderr is not None
        threading.Thread(target=lambda: lines.extend(proc.stderr or ()), daemon=True).start()
        wait_for(lambda: any("nothing changed" in line for line in lines))
        listed(project, CSV + "Ben,ben@example.org,VE,1,text\n")
        wait_for(lambda: len(messages(project.outbox)) == 2)
        proc.terminate()
        assert proc.wait(timeout=30) == 0
    assert sorted(m["To"].addresses[0].addr_spec for m in messages(project.outbox)) == [
        "ana@example.org", "ben@example.org"]  # fmt: skip


def test_a_minor_update_made_major_is_told_though_its_version_is_the_same(
    project: Project,
) -> None:
    send(project)
    edited = VE.replace("Foreigners risk arbitrary arrest.", "Foreigners risk arrest.")
    project.advisory("ve", edited + 'update = "minor"\n')
    assert quiet(project) == (
        f"nothing due (1 already sent, 3 held back as minor updates); {UNCHANGED}"
    )
    project.advisory("ve", edited + 'update = "major"\n')  # the same version, told after all
    assert send(project).startswith("due 3, delivered 3")


def test_a_plan_that_did_not_reach_every_reader_is_not_kept(project: Project) -> None:
    config = config_file.load(project.config)
    advisories = load_advisories(config.service.advisories)
    with open_store(config.state) as store:
        found = quiet_plans.inputs(config, Purpose("send"), advisories, store)
        assert found is not None
        stopped = Counts(readers=4, planned=2)  # (a shard stopped midway found nothing due)
        _keep(config, found, store, 0.0, stopped, None)
        assert quiet_plans.recall(found, store, 1.0) is None
        _keep(config, found, store, 0.0, Counts(readers=4, planned=4, already_sent=4), None)
        kept = quiet_plans.recall(found, store, 1.0)
    assert kept is not None and not kept.changed(found)
    recalled = kept.recalled()
    assert recalled.already_sent == 4 and recalled.unchanged and recalled.carried == 4


# A list of every kind of reader: of one country, of two, of every one, of none but a
# trip's, of a digest, of a country with no advisory yet.
READERS = """name,email,countries,min_level,format,frequency
Dan,dan@example.org,VE,1,text,immediate
Eva,eva@example.org,CO,1,html,immediate
Fay,fay@example.org,VE CO,3,text,immediate
Gus,gus@example.org,*,1,alert,immediate
Hal,hal@example.org,,1,text,immediate
Ida,ida@example.org,CO,1,text,daily
Jon,jon@example.org,JP,1,text,immediate
"""
JP = CO.replace('"CO"', '"JP"').replace("Colombia", "Japan")


def _readers(project: Project) -> None:
    (project.root / "people.csv").write_text(READERS, encoding="utf-8")
    (project.root / "trips.csv").write_text(
        "email,country,start,end\nhal@example.org,CO,2026-12-04,2026-12-09\n", encoding="utf-8"
    )
    project.write_config(
        config_text().replace(
            'timezone = "UTC"',
            'timezone = "UTC"\nsubscribers_file = "people.csv"\ntrips_file = "trips.csv"',
        )
    )


def test_planning_only_the_readers_of_the_advisories_changed_sends_what_a_whole_plan_would(
    project: Project, tmp_path: Path
) -> None:
    """Two projects alike: one plans only the readers of what changed, the other (its
    kept plans forgotten before each run) plans every reader. They send the same."""
    whole = Project(tmp_path / "whole")
    shutil.copytree(project.root, whole.root)
    steps: list[Callable[[Project], object]] = [
        lambda p: None,
        lambda p: p.advisory("co", CO.replace("level = 2", "level = 3")),
        lambda p: p.advisory("ve", VE.replace("arbitrary arrest", "arrest") + 'update = "minor"\n'),
        lambda p: p.advisory("jp", JP),
        lambda p: (p.root / "advisories" / "co.toml").unlink(),
        lambda p: p.advisory("ve", VE.replace("long been", "for years been")),
        lambda p: p.advisory("co", CO),
    ]
    for p in (project, whole):
        _readers(p)
        send(p)
    seen = len(messages(project.outbox))
    narrowed = 0
    for step in steps:
        said = []
        for p in (project, whole):
            step(p)
            if p is whole:
                with sqlite3.connect(p.state) as db:
                    db.execute("DELETE FROM quiet")
            said.append(send(p))
        planned = re.search(r"; (\d+) readers? planned, of the advisories changed.*", said[0])
        if planned:
            narrowed += 1
            assert int(planned[1]) < 11, said[0]  # (of the 11 readers)
            said[0] = said[0][: planned.start()]
        assert said[0] == said[1]
        sent = [
            sorted((m["To"], m["Subject"]) for m in messages(p.outbox)) for p in (project, whole)
        ]
        assert sent[0] == sent[1], said
        assert len(sent[0]) > seen or said[0].startswith("nothing due"), said
        seen = len(sent[0])
    assert narrowed >= 5


def test_a_window_edge_passed_while_a_narrowed_run_sent_is_not_skipped_after_it(
    project: Project,
) -> None:
    readers = (
        '[[subscribers]]\nname = "Tara"\nemail = "tara@example.org"\ncountries = []\n'
        'trips = [ { country = "VE", start = 2026-12-03, end = 2026-12-10 } ]\n\n'
        '[[subscribers]]\nname = "Carl"\nemail = "carl@example.org"\ncountries = ["CO"]\n'
    )
    project.write_config(config_text(subscribers=readers))
    assert send(project, "2026-11-25T21:00").startswith("due 1, delivered 1")  # Carl: CO
    assert quiet(project, "2026-11-25T22:00") == f"nothing due (1 already sent); {UNCHANGED}"
    project.advisory("co", CO.replace("level = 2", "level = 3"))
    # The run begins before midnight; by the time Carl's alert is sent, it is after.
    # Tara's window opens at midnight (7 days before her trip).
    before = datetime(2026, 11, 25, 23, 59, 50, tzinfo=UTC).timestamp()
    after = datetime(2026, 11, 26, 0, 0, 10, tzinfo=UTC).timestamp()
    new = project.outbox / "new"

    def clock() -> float:
        return after if len(list(new.iterdir())) > 1 else before

    config = config_file.load(project.config)
    with open_store(config.state) as store:
        counts = asyncio.run(run(config, Purpose("send"), store, clock=clock))
    assert (counts.delivered, counts.carried) == (1, 1)  # Carl; Tara not planned
    assert send(project, "2026-11-26T00:00:30").startswith("due 1, delivered 1")
    assert sorted(m["To"].addresses[0].addr_spec for m in messages(project.outbox)) == [
        "carl@example.org", "carl@example.org", "tara@example.org"]  # fmt: skip

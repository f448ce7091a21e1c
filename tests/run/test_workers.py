"""`smtp.processes`: one run split over processes, one shard of the list each."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime

from support.project import Project, config_text, many, run_cli, smtp_section
from support.serve import serving, stop, wait_for
from support.smtp import Server

from advisory.inputs import config as config_file
from advisory.inputs.subscribers import Shard
from advisory.run import loop
from advisory.run.plan import Purpose
from advisory.run.run import run
from advisory.run.workers import _Worker
from advisory.state import open_store


def test_shards_split_a_list_evenly_and_ignore_the_domains_spelling() -> None:
    addresses = [f"p{i}@example.org" for i in range(1000)]
    halves = [sum(a in Shard(i, 2) for a in addresses) for i in (0, 1)]
    assert sum(halves) == 1000 and min(halves) > 400
    for address in ("Ana@Example.ORG", "ana@bücher.example", "ana@xn--bcher-kva.example"):
        assert (address in Shard(0, 2)) == ("ana@example.org" in Shard(0, 2))


def test_a_sharded_send_delivers_each_message_once(project: Project, smtpd: Server) -> None:
    many(project, 60, smtp_section(smtpd, connections="4", processes="2"))
    result = project.run("send")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "due 60, delivered 60, failed 0"
    received = smtpd.handler.received
    assert Counter(r.rcpt_tos[0] for r in received) == Counter(
        f"p{i}@example.org" for i in range(60)
    )
    assert len({r.message["Message-ID"] for r in received}) == 60
    again = project.run("send")
    assert again.stdout.strip() == "nothing due (60 already sent)"
    assert len(received) == 60


def test_a_bad_row_in_any_shard_sends_nothing(project: Project, smtpd: Server) -> None:
    many(project, 40, smtp_section(smtpd, connections="4", processes="2"))
    people = project.root / "people.csv"
    people.write_text(people.read_text() + "Bad Row,not-an-address,VE,1,text\n")
    result = project.run("send")
    assert result.returncode == 2
    assert result.stderr == f"{people}:42: email: not a valid email address\n"
    assert smtpd.handler.received == []


def test_refusals_in_a_sharded_run_are_reported_as_in_any_run(
    project: Project, smtpd: Server
) -> None:
    many(project, 30, smtp_section(smtpd, connections="4", processes="2"))
    smtpd.handler.refuse = {"p3@example.org": "550 5.1.1 No such user",
                            "p4@example.org": "451 4.3.0 Try later"}  # fmt: skip
    result = project.run("send")
    assert result.returncode == 1
    assert result.stdout.strip() == (
        "due 30, delivered 28, failed 2 (1 queued for retry, 1 failed for good)"
    )
    errors = sorted(result.stderr.splitlines())
    assert errors[0].startswith("p3@example.org: delivery failed: 550") and "(failed)" in errors[0]
    assert (
        errors[1].startswith("p4@example.org: delivery failed: 451") and "will retry" in errors[1]
    )


def test_sigterm_stops_every_shard_and_the_rest_stays_queued(
    project: Project, smtpd: Server
) -> None:
    smtpd.handler.delay = 0.5
    many(project, 12, smtp_section(smtpd, connections="2", processes="2"))
    argv = [sys.executable, "-m", "advisory", "send", "--config", str(project.config)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: len(smtpd.handler.received) >= 2)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 1
    first = len(smtpd.handler.received)
    assert first < 12 and f"due 12, delivered {first}" in out
    smtpd.handler.delay = 0
    rest = run_cli("send", config=project.config)
    assert rest.returncode == 0, rest.stderr
    # Stopped cleanly: what was in flight was finished and recorded, so nothing twice.
    assert Counter(r.rcpt_tos[0] for r in smtpd.handler.received) == Counter(
        f"p{i}@example.org" for i in range(12)
    )


def test_serve_runs_its_checks_sharded(project: Project, smtpd: Server) -> None:
    project.write_config(
        config_text(
            delivery='transport = "smtp"',
            smtp=smtp_section(smtpd, connections="2", processes="2"),
        )
    )
    with serving(project, "--check-every", "0.3") as proc:
        wait_for(lambda: len(smtpd.handler.received) == 4)
        time.sleep(1)  # later checks find nothing due
        code, err = stop(proc)
    assert code == 0, err
    assert len(smtpd.handler.received) == 4
    assert " check: due 4, delivered 4" in err


def pick(index: int, count: int, n: int) -> list[str]:
    """n addresses that fall in shard `index` of `count`."""
    out, i = [], 0
    while len(out) < n:
        if (address := f"q{i}@example.org") in Shard(index, count):
            out.append(address)
        i += 1
    return out


def test_long_refusals_reach_the_summary_and_nothing_is_sent_twice(
    project: Project, smtpd: Server
) -> None:
    # One shard's report carries twenty 4 KB refusals while another shard still sends.
    many(project, 1, smtp_section(smtpd, connections="3", processes="3"))
    refused, slow = pick(1, 3, 25), pick(2, 3, 15)
    rows = "".join(f"P,{a},VE,1,text\n" for a in pick(0, 3, 1) + refused + slow)
    (project.root / "people.csv").write_text("name,email,countries,min_level,format\n" + rows)
    smtpd.handler.refuse = dict.fromkeys(refused, "550 5.1.1 " + "x" * 4000)
    smtpd.handler.delay = 0.1  # shard 2 still sends for 1.5 s after shard 1 is done
    result = project.run("send")
    assert result.returncode == 1
    assert (
        result.stdout.strip()
        == "due 41, delivered 16, failed 25 (0 queued for retry, 25 failed for good)"
    )
    smtpd.handler.delay = 0
    assert project.run("send").stdout.strip().startswith("nothing due (16 already sent")
    assert set(Counter(r.rcpt_tos[0] for r in smtpd.handler.received).values()) == {1}


def test_a_stop_before_the_shards_are_checked_sends_nothing_and_says_so(
    project: Project, smtpd: Server
) -> None:
    many(project, 100_000, smtp_section(smtpd, connections="2", processes="2"))
    argv = [sys.executable, "-m", "advisory", "send", "--config", str(project.config)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, out) == (1, "")
    assert err == "stopped before any message was sent; what is due stays due\n"
    assert smtpd.handler.received == []


def test_ctrl_c_at_the_terminal_is_a_stop_never_a_traceback(
    project: Project, smtpd: Server
) -> None:
    many(project, 2000, smtp_section(smtpd, connections="4", processes="4"))
    argv = [sys.executable, "-m", "advisory", "send", "--config", str(project.config)]
    for delay in (0.5, 0.8):  # while the shards start, then while they check
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGINT)  # the whole group, as a terminal does
        out, err = proc.communicate(timeout=60)
        assert "Traceback" not in err and proc.returncode in (0, 1, 130), (out, err)
    assert set(Counter(r.rcpt_tos[0] for r in smtpd.handler.received).values()) <= {1}


def test_a_worker_killed_before_its_order_is_written_is_no_crash() -> None:
    """A Ctrl-C can reach a worker between its start and its own session: its pipe
    is closed by the time it is told, and the run reads its end as any worker's."""

    async def told() -> object:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "pass", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        await proc.wait()
        await asyncio.sleep(0.05)  # the loop sees the end and closes the pipe
        worker = _Worker(proc)
        worker.tell("go")
        return await worker.line()

    assert loop.run(told()) is None


def test_every_shard_goes_by_the_clock_of_the_run(project: Project, smtpd: Server) -> None:
    """A run's clock (here a day in a trip's window) is the one every worker plans by:
    each traveller, whichever shard they fall in, is briefed once."""
    travellers = "".join(
        f'[[subscribers]]\nname = "T{i}"\nemail = "t{i}@example.org"\n'
        'trips = [ { country = "VE", start = 2030-03-03, end = 2030-03-10 } ]\n\n'
        for i in range(8)
    )
    project.write_config(
        config_text(
            delivery='transport = "smtp"',
            subscribers=travellers,
            smtp=smtp_section(smtpd, connections="2", processes="2"),
        )
    )
    config = config_file.load(project.config)
    in_the_window = datetime(2030, 3, 1, 12, tzinfo=UTC).timestamp()
    with open_store(config.service.state) as store:
        counts = asyncio.run(run(config, Purpose("send"), store, clock=lambda: in_the_window))
    assert (counts.due, counts.delivered) == (8, 8)
    assert sorted(r.rcpt_tos[0] for r in smtpd.handler.received) == sorted(
        f"t{i}@example.org" for i in range(8)
    )
    assert all(r.message["Subject"].startswith("Before your trip:") for r in smtpd.handler.received)


def test_a_sharded_check_after_one_advisory_changed_plans_and_sends_only_its_readers(
    project: Project, smtpd: Server
) -> None:
    many(project, 40, smtp_section(smtpd, connections="4", processes="2"))
    people = project.root / "people.csv"
    rows = people.read_text().splitlines(keepends=True)
    # Every fourth reader follows Colombia instead.
    rows[1::4] = [row.replace(",VE,", ",CO,") for row in rows[1::4]]
    people.write_text("".join(rows))
    assert project.run("send").stdout.strip() == "due 40, delivered 40, failed 0"
    assert project.run("send").stdout.strip() == "nothing due (40 already sent)"
    co = project.root / "advisories" / "co.toml"
    co.write_text(co.read_text().replace("level = 2", "level = 3"))
    result = project.run("send")
    assert result.stdout.strip() == (
        "due 10, delivered 10, failed 0; 30 already sent; 10 readers planned, of the "
        "advisories changed since the last check"
    ), result.stderr
    colombia = {f"p{i}@example.org" for i in range(0, 40, 4)}
    assert Counter(r.rcpt_tos[0] for r in smtpd.handler.received[40:]) == Counter(colombia)
    # What that run changed was its own: the next check plans nobody.
    assert project.run("send").stdout.strip() == (
        "nothing due (40 already sent); nothing changed since the last check"
    )
    assert len(smtpd.handler.received) == 50

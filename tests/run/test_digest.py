"""Digests: one reminder per subscriber per period, highest level first, through the outbox."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from support.project import CO, Project, parse
from support.smtp import Server

from advisory.domain.schedule import digest_period
from advisory.inputs import config as config_file
from advisory.inputs.advisory_files import load_advisories
from advisory.inputs.subscribers import read_roster
from advisory.mail.rendering import Renderer
from advisory.mail.transports import MaildirTransport
from advisory.run.counts import Counts
from advisory.run.deliver import Delivery
from advisory.run.plan import Purpose, plan_for, plan_run
from advisory.run.run import run
from advisory.service.scheduler import Service
from advisory.state import open_store

MONDAY_8 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC).timestamp()
WEEKLY = "0 8 * * MON"


def at(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("cron", "now", "period"),
    [
        (WEEKLY, MONDAY_8, "2026-11-30T08:00:00"),  # run on time: this week's period
        (WEEKLY, MONDAY_8 + 0.4, "2026-11-30T08:00:00"),
        (WEEKLY, at(2026, 12, 3, 17, 0), "2026-11-30T08:00:00"),  # rerun later that week
        (WEEKLY, MONDAY_8 - 60, "2026-11-23T08:00:00"),  # the week before
        ("0 8 * * 1", MONDAY_8, "2026-11-30T08:00:00"),  # crontab's 1 is Monday
        ("0 8 * * 0", MONDAY_8, "2026-11-29T08:00:00"),  # and 0 is Sunday
        ("0 8 * * 1-5", at(2026, 12, 5, 12, 0), "2026-12-04T08:00:00"),  # Saturday: Friday's
        ("0 8 * * *", at(2026, 11, 30, 23, 59), "2026-11-30T08:00:00"),
    ],
)
def test_digest_period_is_named_by_the_time_that_began_it(
    cron: str, now: float, period: str
) -> None:
    assert digest_period(cron, "UTC", now) == period


def test_digest_period_follows_the_service_time_zone() -> None:
    # 08:00 in Madrid is 07:00 UTC in winter: at 07:30 UTC this week's period has begun.
    assert digest_period(WEEKLY, "Europe/Madrid", MONDAY_8 - 1800) == "2026-11-30T08:00:00"


def test_the_night_clocks_go_back_is_one_period() -> None:
    """02:30 happens twice in Madrid on 25 October 2026; the digest must not."""
    first, second = at(2026, 10, 25, 0, 30), at(2026, 10, 25, 1, 30)
    periods = {digest_period("30 2 * * *", "Europe/Madrid", t) for t in (first, second)}
    assert periods == {"2026-10-25T02:30:00"}


def run_digest(project: Project, now: float) -> Counts:
    config = config_file.load(project.config)
    period = digest_period(WEEKLY, "UTC", now)
    assert period is not None
    with open_store(config.service.state) as store:
        digest = Purpose("digest", periods={"digest": period})
        return asyncio.run(run(config, digest, store, clock=lambda: now))


def outbox(project: Project) -> list[str]:
    return sorted(p.name for p in (project.outbox / "new").iterdir())


def test_a_digest_is_sent_once_per_period(project: Project) -> None:
    first = run_digest(project, MONDAY_8)
    # Ana (VE), Ben (VE and CO), the pager (VE); Chloé follows CO at level 3: nothing stands.
    assert (first.due, first.delivered) == (3, 3)
    files = outbox(project)
    again = run_digest(project, MONDAY_8 + 3 * 86400)  # same period, a rerun
    assert (again.due, again.delivered) == (0, 0)
    assert outbox(project) == files
    next_week = run_digest(project, MONDAY_8 + 7 * 86400)
    assert next_week.delivered == 3 and len(outbox(project)) == 6


def test_digest_lists_highest_level_first_and_names_every_advisory(project: Project) -> None:
    project.advisory("ru", CO.replace('"CO"', '"RU"').replace("level = 2", "level = 3")
                     .replace("Colombia", "Russia"))  # fmt: skip
    run_digest(project, MONDAY_8)
    ben = [parse(p.read_bytes()) for p in (project.outbox / "new").iterdir()]
    [digest] = [m for m in ben if m["To"].addresses[0].addr_spec == "ben@example.org"]
    assert digest["Subject"] == "Travel advisories in force: Venezuela L4, Russia L3, Colombia L2"
    text = digest.get_content()
    order = [text.index(f"{name} – LEVEL") for name in ("VENEZUELA", "RUSSIA", "COLOMBIA")]
    assert order == sorted(order)
    [pager] = [m for m in ben if m["To"].addresses[0].addr_spec == "pager@example.org"]
    assert pager.get_content().strip() == "IN FORCE: VENEZUELA L4"


def test_a_failed_digest_is_retried_by_the_next_check_in_its_period(project: Project) -> None:
    config = config_file.load(project.config)
    advisories = load_advisories(config.service.advisories)
    period = digest_period(WEEKLY, "UTC", MONDAY_8)
    assert period is not None
    broken = MaildirTransport(project.root / "box")
    (project.root / "box" / "new").rmdir()
    (project.root / "box" / "new").write_text("a file where a folder should be")
    with open_store(config.service.state) as store:
        digest = Purpose("digest", periods={"digest": period})
        the_plan = plan_for(digest, read_roster(config), advisories, store.outbox, MONDAY_8)
        delivery = Delivery(config, store, broken, Renderer(), clock=lambda: MONDAY_8)
        counts = asyncio.run(delivery.run(the_plan))
        assert counts.retrying == 3
        later = MONDAY_8 + 3600
        check = plan_run(
            read_roster(config), advisories, store.outbox, later, periods={"digest": period}
        )
        digests = [job for chunk in check.chunks for job in chunk if job.change is None]
        assert len(digests) == 3 and not any(job.new for job in digests)


def test_check_and_digest_at_the_same_minute_both_run(smtp_project: Project, smtpd: Server) -> None:
    """The digest waits for the check's turn instead of being skipped for the week."""
    smtpd.handler.delay = 0.3
    smtp_project.config.write_text(
        smtp_project.config.read_text() + f'\n[schedule]\ndigest = "{WEEKLY}"\n'
    )
    config = config_file.load(smtp_project.config)
    lines: list[str] = []

    async def both() -> None:
        with open_store(config.service.state) as store:
            service = Service(config, Renderer(), store, lambda _e, m, **_: lines.append(m))
            await asyncio.gather(service.check(), service.digest())

    asyncio.run(both())
    digests = [r for r in smtpd.handler.received if r.message["Subject"].startswith("Travel")]
    assert len(smtpd.handler.received) == 4 + 3 and len(digests) == 3
    assert not any("skipped" in line or "error" in line for line in lines)

"""The plan's counts are live: how many readers are planned of how many, as it goes."""

from __future__ import annotations

from support.project import Project, many

from advisory.inputs import config as config_file
from advisory.inputs.advisory_files import load_advisories
from advisory.inputs.subscribers import read_roster
from advisory.run.plan import CHUNK, Purpose, plan_for
from advisory.state import open_store


def test_a_send_plan_tells_how_many_readers_it_has_planned_of_all(project: Project) -> None:
    many(project, 2500, 'host = "localhost"')
    config = config_file.load(project.config)
    advisories = load_advisories(config.service.advisories)
    with open_store(config.service.state) as store, read_roster(config) as roster:
        plan = plan_for(Purpose("send"), roster, advisories, store.outbox, 1000.0)
        first = next(plan.chunks)
        assert (len(first), plan.counts.planned, plan.counts.readers) == (CHUNK, CHUNK, 2500)
        rest = sum(len(chunk) for chunk in plan.chunks)
        assert (rest, plan.counts.planned, plan.counts.readers) == (1500, 2500, 2500)

"""Two publishers' views of one country are two advisories: each reader hears of each view
they follow, named by its publisher, and what changed is told per view."""

from __future__ import annotations

from support.project import VE, Project, body, messages

US_VE = VE.replace('source = "Travel Advisory Service"', 'source = "U.S. Department of State"\n'
                   'publisher = "us-state"').replace("level = 4", "level = 3")  # fmt: skip


def subjects(project: Project, address: str) -> list[str]:
    return sorted(str(m["Subject"]) for m in messages(project.outbox) if address in str(m["To"]))


def test_the_us_view_of_a_country_is_a_second_advisory(project: Project) -> None:
    project.advisory("ve-us", US_VE)
    project.write_config(
        project.config.read_text().replace(
            'email = "ben@example.org"', 'email = "ben@example.org"\nsources = ["files"]'
        )
    )
    result = project.run("send")
    assert result.returncode == 0, result.stderr
    assert subjects(project, "ana@example.org") == [
        "Venezuela (US) travel advisory: Level 3 – Reconsider travel",
        "Venezuela travel advisory: Level 4 – Do not travel",
    ]
    # Ben follows the service's own files only; the pager wants level 4, which the US lacks.
    assert subjects(project, "ben@example.org") == [
        "Colombia travel advisory: Level 2 – Exercise increased caution",
        "Venezuela travel advisory: Level 4 – Do not travel",
    ]
    assert len(subjects(project, "pager@example.org")) == 1
    us = next(m for m in messages(project.outbox) if "(US)" in str(m["Subject"]))
    assert "Source: U.S. Department of State" in body(us)

    # The US raises its level: only the US view changed, and it is told against the US view.
    project.advisory("ve-us", US_VE.replace("level = 3", "level = 4"))
    again = project.run("send")
    assert again.returncode == 0, again.stderr
    assert "due 2, delivered 2" in again.stdout  # Ana and the pager, not Ben
    raised = [m for m in messages(project.outbox) if "raised" in str(m["Subject"])]
    assert {str(m["Subject"]) for m in raised} == {
        "Venezuela (US) travel advisory raised to Level 4 – Do not travel"
    }


def test_a_publisher_twice_for_one_country_is_refused(project: Project) -> None:
    first = project.advisory("ve-us", US_VE)
    second = project.advisory("ve-usa", US_VE)
    result = project.run("check")
    assert result.returncode == 2
    assert result.stderr == f"{second}: country: VE@us-state is already in {first}\n"

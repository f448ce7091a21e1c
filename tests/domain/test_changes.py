"""What changed: computed per reader, against the version that reader last received."""

from __future__ import annotations

import pytest
from support.models import HEAD, RENDERER, advisory, reader
from support.project import VE, Project, messages, parse

from advisory.domain.changes import what_changed
from advisory.domain.models import Format, Level, Risk


def test_first_alert_has_no_change() -> None:
    change = what_changed(None, advisory())
    assert change.first and change.sentences() == [] and change.direction == ""


@pytest.mark.parametrize(
    ("before", "after", "sentences"),
    [
        ({"level": 3}, {"level": 4},
         ["Level raised from 3 (Reconsider travel) to 4 (Do not travel)."]),
        ({"level": 4, "risks": ["crime", "unrest"]}, {"level": 2, "risks": ["crime", "health"]},
         ["Level lowered from 4 (Do not travel) to 2 (Exercise increased caution).",
          "Risks added: Health.", "Risks removed: Civil unrest."]),
        ({}, {"details": "New details."}, []),  # told as sentences added and removed
        ({}, {"title": "Venezuela: leave now"}, ["The advisory text was updated."]),
        ({}, {}, []),
    ],
)  # fmt: skip
def test_change_sentences(
    before: dict[str, object], after: dict[str, object], sentences: list[str]
) -> None:
    assert what_changed(advisory(**before), advisory(**after)).sentences() == sentences


def test_change_in_every_format() -> None:
    old = advisory(level=3, risks=["crime"])
    new = advisory(level=4, risks=["crime", "detention"])
    change = what_changed(old, new)
    assert (change.previous, change.level, change.added) == (
        Level.RECONSIDER, Level.DO_NOT_TRAVEL, (Risk.DETENTION,),
    )  # fmt: skip
    html = RENDERER.render(new, reader(Format.HTML), HEAD, change)
    assert html.subject == "Venezuela travel advisory raised to Level 4 – Do not travel"
    assert html.html is not None and "What changed" in html.html
    assert "Level raised from 3 (Reconsider travel) to 4 (Do not travel)." in html.html
    assert "Risks added: Arbitrary or wrongful detention." in html.text
    alert = RENDERER.render(new, reader(Format.ALERT), HEAD, change).text
    assert alert.startswith("VENEZUELA raised to L4 DO NOT TRAVEL (+detention): ")
    assert len(alert.strip()) <= 160
    updated = RENDERER.render(advisory(details="x"), reader(Format.ALERT), HEAD,
                              what_changed(advisory(), advisory(details="x"))).text  # fmt: skip
    assert updated.startswith("VENEZUELA L4 DO NOT TRAVEL updated: ")


def test_first_alert_says_it_is_the_current_advisory() -> None:
    out = RENDERER.render(advisory(), reader(Format.TEXT), HEAD)
    assert "This is the current travel advisory for Venezuela." in out.text
    assert out.subject == "Venezuela travel advisory: Level 4 – Do not travel"


def test_each_reader_is_told_what_changed_since_their_last_alert(project: Project) -> None:
    """Ana had level 3; the pager (level 4 and up) never did: it gets a first alert."""
    level3 = VE.replace("level = 4", "level = 3").replace('["detention"]', '["crime"]')
    project.advisory("ve", level3)
    assert project.run("send").returncode == 0
    project.advisory("ve", VE.replace('["detention"]', '["crime", "detention"]'))
    result = project.run("send")
    assert "due 3, delivered 3" in result.stdout
    new = sorted((project.outbox / "new").iterdir(), key=lambda p: p.stat().st_mtime)[-3:]
    by_rcpt = {m["To"].addresses[0].addr_spec: m for m in (parse(p.read_bytes()) for p in new)}
    ana = by_rcpt["ana@example.org"]
    assert ana["Subject"] == "Venezuela travel advisory raised to Level 4 – Do not travel"
    html = ana.get_body(("html",)).get_content()
    assert "Level raised from 3 (Reconsider travel) to 4 (Do not travel)." in html
    assert "Risks added: Arbitrary or wrongful detention." in html
    pager = by_rcpt["pager@example.org"].get_content()
    assert pager.startswith("VENEZUELA L4 DO NOT TRAVEL [crime, detention]: ")


def test_each_return_to_a_version_a_reader_had_is_told_once(project: Project) -> None:
    lowered = VE.replace("level = 4", "level = 3")
    sent = []
    for body in (VE, lowered, VE, lowered, VE, VE):
        project.advisory("ve", body)
        result = project.run("send", "--country", "VE")
        assert result.returncode == 0, result.stderr
        sent.append(result.stdout.strip())
    subjects = [str(m["Subject"]) for m in messages(project.outbox) if "ben@" in str(m["To"])]
    assert sorted(subjects) == sorted([
        "Venezuela travel advisory: Level 4 – Do not travel",
        *["Venezuela travel advisory lowered to Level 3 – Reconsider travel"] * 2,
        *["Venezuela travel advisory raised to Level 4 – Do not travel"] * 2,
    ])  # fmt: skip
    assert sent[5].startswith("nothing due")
    ids = [m["Message-ID"] for m in messages(project.outbox)]
    assert len(ids) == len(set(ids))


def test_the_sentences_added_and_removed_are_told_five_at_most_then_counted() -> None:
    old = advisory(summary="Do not travel.", details="Crime is high. Roads are poor.")
    facts = " ".join(f"Fact {n} holds." for n in range(7))
    new = advisory(summary="Do not travel.", details=f"Roads are poor. {facts}")
    change = what_changed(old, new)
    assert change.sentences() == [] and change.told
    assert change.new_sentences == ([f"Fact {n} holds." for n in range(5)], "and 2 more sentences")
    assert change.old_sentences == (["Crime is high."], "")
    text = RENDERER.render(new, reader(Format.TEXT), HEAD, change).text
    assert (
        "Added to the advice:\n  + Fact 0 holds.\n" in text and "  + … and 2 more sentences" in text
    )
    assert "No longer in the advice:\n  - Crime is high.\n" in text
    html = RENDERER.render(new, reader(Format.HTML), HEAD, change).html or ""
    assert "No longer in the advice:</div>" in html and "<del>Crime is high.</del>" in html
    assert "<ins" in html and "Fact 5" not in html.split("Venezuela: do not travel</h1>")[0]


def test_a_regions_new_words_are_told_under_its_name() -> None:
    region = {"name": "Border areas", "level": 4, "summary": "Armed groups operate."}
    old = advisory(regions=[region])
    new = advisory(regions=[{**region, "summary": "Armed groups operate. Mines are laid."}])
    assert what_changed(old, new).said == ("Border areas: Mines are laid.",)
    assert what_changed(advisory(), new).said == ()  # a region added is told as such


def test_a_regions_name_in_another_case_changes_no_sentence() -> None:
    region = {"name": "Border areas", "level": 4, "summary": "Armed groups operate."}
    old = advisory(regions=[region])
    new = advisory(regions=[{**region, "name": "Border Areas"}])
    assert (what_changed(old, new).said, what_changed(old, new).unsaid) == ((), ())

"""Regional advice: an advisory's parts at their own level, matched by the highest, told
when they change, and never a new version for an advisory that has none."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from support.models import advisory, reader

from advisory.domain.changes import what_changed
from advisory.domain.matching import by_country, concerning
from advisory.domain.models import Level

BORDER = {"name": "Eastern border districts", "level": 4,
          "summary": "Armed groups operate there and have attacked visitors."}  # fmt: skip


def colombia(*regions: dict[str, object], level: int = 2) -> object:
    return advisory(country="CO", level=level, title="Colombia: exercise increased caution",
                    regions=list(regions))  # fmt: skip


def test_an_advisory_without_regions_keeps_the_version_it_had_before_regions() -> None:
    """Versions computed by the code before regions existed: every reader's state stands."""
    assert advisory().version == "34ae1ac913e948b7d2eb"
    assert advisory(publisher="us-state").version == "358d799d550f5640e58c"


def test_a_region_is_part_of_the_version_and_of_the_highest_level() -> None:
    plain, parts = colombia(), colombia(BORDER)
    assert plain.version != parts.version
    assert (plain.highest, plain.in_parts) == (Level.CAUTION, None)
    assert (parts.highest, parts.in_parts) == (Level.DO_NOT_TRAVEL, Level.DO_NOT_TRAVEL)
    lower = colombia({**BORDER, "level": 1})
    assert (lower.highest, lower.in_parts) == (Level.CAUTION, None)


def test_matching_uses_the_highest_level() -> None:
    scope = by_country([colombia(BORDER)])
    assert list(concerning(reader(countries=["CO"], min_level=4), scope))
    assert not list(concerning(reader(countries=["CO"], min_level=4), by_country([colombia()])))


@pytest.mark.parametrize(
    ("before", "after", "sentences"),
    [
        ((), (BORDER,),
         ["Now advised for Eastern border districts: Level 4 (Do not travel)."]),
        (({**BORDER, "level": 3},), (BORDER,),
         ["Eastern border districts: raised from 3 (Reconsider travel) to 4 (Do not travel)."]),
        ((BORDER,), ({**BORDER, "level": 3},),
         ["Eastern border districts: lowered from 4 (Do not travel) to 3 (Reconsider travel)."]),
        ((BORDER,), (),
         ["No longer advised separately: Eastern border districts (was Level 4)."]),
        ((BORDER,), ({**BORDER, "summary": "Now also kidnappings."},), []),  # as sentences
    ],
)  # fmt: skip
def test_what_changed_tells_regions_added_raised_lowered_and_removed(
    before: tuple[dict[str, object], ...],
    after: tuple[dict[str, object], ...],
    sentences: list[str],
) -> None:
    change = what_changed(colombia(*before), colombia(*after))  # type: ignore[arg-type]
    assert change.sentences() == sentences
    assert not change.unchanged
    assert what_changed(colombia(*after), colombia(*after)).unchanged  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("regions", "field", "reason"),
    [
        ([BORDER, {**BORDER, "level": 3}], "regions", "two regions named Eastern border"),
        ([{**BORDER, "level": 5}], "regions.0.level", "Input should be 1, 2, 3 or 4"),
        ([{"level": 4}], "regions.0.name", "Field required"),
        ([{**BORDER, "name": " "}], "regions.0.name", "must not be empty"),
    ],
)
def test_a_wrong_region_is_refused(regions: list[object], field: str, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        colombia(*regions)  # type: ignore[arg-type]
    [error] = caught.value.errors()
    assert ".".join(map(str, error["loc"])) == field
    assert reason in error["msg"]


def test_a_region_renamed_only_in_case_is_the_same_region() -> None:
    before = colombia(BORDER)
    after = colombia({**BORDER, "name": "EASTERN BORDER DISTRICTS"})
    assert what_changed(before, after).unchanged  # type: ignore[arg-type]

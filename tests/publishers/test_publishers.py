"""Real published advisories (tests/fixtures) normalised: level, risks, ISO code."""

from __future__ import annotations

import json
import time
from datetime import date

import pytest
from support.feeds import FIXTURES, archived, rss, rss_item

from advisory.domain.changes import what_changed
from advisory.domain.models import Level, Risk
from advisory.publishers.canada import NAME as CANADA
from advisory.publishers.canada import advisory as canada_advisory
from advisory.publishers.gov_uk import NAME as GOV_UK
from advisory.publishers.gov_uk import advisory as gov_uk_advisory
from advisory.publishers.gov_uk import slugs as gov_uk_slugs
from advisory.publishers.text import risks_in
from advisory.publishers.us_state import NAME as US_STATE
from advisory.publishers.us_state import advisories as us_state_advisories

# The indicators by their own letters.
C, T, U, H, N, K, D = (Risk.CRIME, Risk.TERRORISM, Risk.UNREST, Risk.HEALTH, Risk.DISASTER,
                       Risk.KIDNAPPING, Risk.DETENTION)  # fmt: skip
O = Risk.OTHER  # noqa: E741


def test_the_raw_feed_maps_fips_codes_and_reads_level_and_risks() -> None:
    feed = (FIXTURES / "us" / "rss_raw" / "TAsTWs_excerpt_2026-10-07.xml").read_bytes()
    got = [(a.country, a.level, a.risks, a.issued) for a in us_state_advisories(feed)]
    assert got == [
        ("IT", Level(2), (T,), date(2026, 9, 10)),
        ("MK", Level(1), (), date(2026, 9, 10)),
        ("GB", Level(2), (T,), date(2026, 9, 9)),  # FIPS "UK"
        ("SR", Level(1), (), date(2026, 9, 8)),  # FIPS "NS"
    ]
    italy = us_state_advisories(feed)[0]
    assert italy.summary == "Exercise increased caution in Italy due to terrorism."
    assert italy.source == US_STATE and italy.source_url is not None
    assert "<" not in italy.details and "Petty crime is common" in italy.details


ARCHIVED = [
    ("venezuela_L4_2025-12-03", "VE", 4, (C, T, U, H, K, D, O)),
    ("venezuela_L3_2026-03-19", "VE", 3, (C, T, H, K)),
    ("venezuela_L3_2026-06-27", "VE", 3, (C, T, H, N, K)),
    ("russia_L4_2025-12-29", "RU", 4, (T, U, D, O)),
    ("russia_L4_2025-12-29_longer_variant", "RU", 4, (T, U, D, O)),
    ("iran_L4_2025-12-05", "IR", 4, (T, U, K, D)),
    ("north_korea", "KP", 4, (D, O)),
    ("china", "CN", 2, (O,)),
    ("mainland_china_hong_kong_macau", "CN", 2, (O,)),
    ("mexico_L2_2025-08-12", "MX", 2, (C, T, K)),
]


@pytest.mark.parametrize(("name", "country", "level", "risks"), ARCHIVED)
def test_archived_items_normalise(
    name: str, country: str, level: int, risks: tuple[Risk, ...]
) -> None:
    [advisory] = us_state_advisories(rss(rss_item(archived(name))))
    assert (advisory.country, advisory.level, advisory.risks) == (country, Level(level), risks)
    assert advisory.summary.lower().startswith(("do not travel", "reconsider", "exercise",
                                                "summary: exercise"))  # fmt: skip
    assert "U.S" not in advisory.summary[-4:]  # not cut at an abbreviation


def test_notes_and_indicator_lines_do_not_make_the_summary() -> None:
    [advisory] = us_state_advisories(rss(rss_item(archived("venezuela_L4_2025-12-03"))))
    assert advisory.summary.startswith("Do not travel to or remain in Venezuela due to")
    assert "Reissued" in advisory.details  # kept in the text, out of the summary
    assert risks_in('Crime. The "Wrongful Detention," and "Other" risk indicators were '
                    "removed. Do not go due to crime, detention.") == (C,)  # fmt: skip
    assert risks_in('The "Kidnapping" risk indicator was added.') == (K,)


def test_empty_bodies_duplicates_and_other_items_are_left_out() -> None:
    ve = archived("venezuela_L3_2026-06-27")
    empty = rss_item(ve, body=" ")
    alert = rss_item(ve).replace(">advisory<", ">alert<")
    assert us_state_advisories(rss(empty, alert)) == []
    with pytest.raises(ValueError, match="not an RSS feed"):
        us_state_advisories("<rss><channel>")


def test_every_title_in_the_feeds_index_gives_its_level() -> None:
    index = json.loads(
        (FIXTURES / "us" / "rss_archive" / "current_advisories_index.json").read_text()
    )
    text = "Exercise normal precautions in the country."
    items = [rss_item({**e, "content_md": text}, fips="") for e in index]
    advisories = us_state_advisories(rss(*items))
    # All but a place that is several countries at once, and one ISO 3166 does not list.
    unplaced = {"French West Indies", "Kosovo"}
    assert len(advisories) == len([e for e in index if e["country"] not in unplaced])
    for entry, advisory in zip([e for e in index if e["country"] not in unplaced],
                               advisories, strict=True):  # fmt: skip
        assert advisory.level == Level(entry["level"])
        assert advisory.country_name != advisory.country


def test_gov_uk_alert_status_maps_onto_the_four_levels() -> None:
    content = json.loads((FIXTURES / "uk" / "govuk_travel_advice_full_country.json").read_text())
    advisory = gov_uk_advisory(content)
    assert advisory is not None
    assert (advisory.country, advisory.level, advisory.source) == ("AL", Level(1), GOV_UK)
    assert advisory.summary.startswith("The main opposition party has called for mass protests")
    assert advisory.source_url == "https://www.gov.uk/foreign-travel-advice/albania"
    for status, level in [
        (["avoid_all_but_essential_travel_to_parts"], 2),
        (["avoid_all_travel_to_parts", "avoid_all_but_essential_travel_to_parts"], 2),
        (["avoid_all_but_essential_travel_to_whole_country"], 3),
        (["avoid_all_travel_to_whole_country", "avoid_all_travel_to_parts"], 4),
    ]:
        changed = gov_uk_advisory(
            {**content, "details": {**content["details"], "alert_status": status}}
        )
        assert changed is not None and changed.level == Level(level)


def test_gov_uk_withdrawn_and_partless_pages() -> None:
    uk = FIXTURES / "uk"
    withdrawn = json.loads((uk / "govuk_travel_advice_withdrawn_full_country.json").read_text())
    assert gov_uk_advisory(withdrawn) is None
    no_parts = gov_uk_advisory(json.loads((uk / "govuk_travel_advice_no_parts.json").read_text()))
    assert no_parts is not None and no_parts.country == "AQ" and no_parts.details


def test_canada_advisory_state_maps_onto_the_four_levels() -> None:
    document = json.loads((FIXTURES / "canada" / "cta-cap-co_excerpt_2026-10-06.json").read_text())
    advisory = canada_advisory(document)
    assert advisory is not None
    # The country-wide advice's risks; regional paragraphs (kidnapping near borders) aside.
    assert (advisory.country, advisory.level, advisory.risks) == ("CO", Level(2), (C,))
    assert (
        advisory.summary
        == "Exercise a high degree of caution in Colombia due to high levels of crime."
    )
    assert advisory.source == CANADA and advisory.issued == date(2026, 10, 6)
    for state, level in [(0, 1), (1, 2), (2, 3), (3, 4)]:
        data = {**document["data"], "advisory-state": state}
        changed = canada_advisory({**document, "data": data})
        assert changed is not None and changed.level == Level(level)


def test_odd_types_are_never_taken_for_a_level() -> None:
    document = json.loads((FIXTURES / "canada" / "cta-cap-co_excerpt_2026-10-06.json").read_text())
    assert (
        canada_advisory({**document, "data": {**document["data"], "advisory-state": True}}) is None
    )
    page = json.loads((FIXTURES / "uk" / "govuk_travel_advice_full_country.json").read_text())
    page["details"]["alert_status"] = "avoid_all_travel_to_whole_country"  # a string, not a list
    with pytest.raises(ValueError, match="alert_status"):
        gov_uk_advisory(page)


def test_gov_uk_index_names_map_to_iso_codes() -> None:
    index = json.loads((FIXTURES / "uk" / "govuk_travel_advice_index.json").read_text())
    listed = {c["details"]["country"]["name"] for c in index["links"]["children"]}
    slugs = gov_uk_slugs(index)
    assert len(slugs) == len(listed)  # São Tomé and Principe among them
    named = {"details": {"country": {"name": "Myanmar (Burma)", "slug": "myanmar"}}}
    synonym = {"details": {"country": {"name": "Kosovo", "slug": "kosovo", "synonyms": []}}}
    odd = {"details": {"country": {"name": "Spain", "slug": "../../etc"}}}
    extra = gov_uk_slugs({"links": {"children": [named, synonym, odd]}})
    assert extra == {"MM": "myanmar"}


def test_text_no_reader_can_see_is_dropped_and_long_text_is_cut_at_a_paragraph() -> None:
    item = archived("mexico_L2_2025-08-12")
    body = (
        "<p>Exercise increased caution\x92s due to crime.</p>" + "<p>" + "word " * 30_000 + "</p>"
    )
    [advisory] = us_state_advisories(rss(rss_item(item, body=body * 2)))
    assert "\x92" not in advisory.details and advisory.details.endswith("[…]")
    assert len(advisory.details) <= 100_000


def test_an_item_with_a_malformed_date_is_told_not_dropped() -> None:
    ve = archived("venezuela_L3_2026-06-27")
    refused: list[tuple[str, str]] = []
    good = rss_item(archived("venezuela_L3_2026-06-27"), date="Sat, 27 Jun 2026 00:00:00 GMT")
    bad = rss_item(ve, date="the 31st of Nevember").replace(">VE<", ">CO<")
    assert len(us_state_advisories(rss(good), refused)) == 1 and refused == []
    assert us_state_advisories(rss(bad), refused) == []
    [(country, why)] = refused
    assert country == "VE" and "pubDate: not a date ('the 31st of Nevember')" in why


def test_canadas_fields_of_another_type_are_never_mailed_as_python() -> None:
    document = json.loads((FIXTURES / "canada" / "cta-cap-co_excerpt_2026-10-06.json").read_text())
    eng = {**document["data"]["eng"], "name": ["Colombia"], "advisory-text": {"x": 1},
           "url-slug": 7}  # fmt: skip
    advisory = canada_advisory({**document, "data": {**document["data"], "eng": eng}})
    assert advisory is not None
    assert advisory.title == "CO"
    assert not any(c in advisory.title + advisory.summary for c in "[]{}'")
    assert advisory.source_url is None


def test_gov_uk_parts_are_regions_named_as_the_page_names_them() -> None:
    page = json.loads((FIXTURES / "uk" / "govuk_travel_advice_parts_turkey_2016.json").read_text())
    turkey = gov_uk_advisory(page)
    assert turkey is not None and turkey.country == "TR"
    assert turkey.level == Level.CAUTION  # the parts status leaves the country where it was
    assert [(r.name, r.level) for r in turkey.regions] == [
        ("Within 10 km of the border with Syria", Level.DO_NOT_TRAVEL)
    ]
    # Both parts statuses: the listed provinces are a region each, at level 3.
    page["details"]["alert_status"] = ["avoid_all_travel_to_parts",
                                       "avoid_all_but_essential_travel_to_parts"]  # fmt: skip
    both = gov_uk_advisory(page)
    assert both is not None
    assert [(r.name, r.level.value) for r in both.regions] == [
        ("Within 10 km of the border with Syria", 4),
        ("The remaining areas of Sirnak, Mardin, Sanliurfa, Gaziantep, Kilis and Hatay "
         "provinces", 3),
        ("Siirt, Tunceli, Diyarbakir and Hakkari", 3),
    ]  # fmt: skip
    # A page that does not name the parts: one region for them all.
    page["details"]["summary"] = "<p>Most visits are trouble-free.</p>"
    page["details"]["alert_status"] = ["avoid_all_travel_to_parts"]
    unnamed = gov_uk_advisory(page)
    assert unnamed is not None
    assert [(r.name, r.level.value) for r in unnamed.regions] == [("Parts of the country", 4)]


def test_a_view_read_before_regions_is_told_only_the_region_that_appeared() -> None:
    """What a reader holds from before regions were read (the same level, no regions) and
    what is read now differ by the region alone: that is all they are told."""
    page = json.loads((FIXTURES / "uk" / "govuk_travel_advice_parts_turkey_2016.json").read_text())
    now = gov_uk_advisory(page)
    assert now is not None
    held = now.model_copy(update={"regions": ()})
    assert what_changed(held, now).sentences() == [
        "Now advised for Within 10 km of the border with Syria: Level 4 (Do not travel)."
    ]


def test_canadas_regional_advisories_are_regions_at_the_level_they_advise() -> None:
    document = json.loads((FIXTURES / "canada" / "cta-cap-co_excerpt_2026-10-06.json").read_text())
    colombia = canada_advisory(document)
    assert colombia is not None
    assert (colombia.level, colombia.highest) == (Level.CAUTION, Level.DO_NOT_TRAVEL)
    assert [(r.name, r.level.value) for r in colombia.regions] == [
        ("Border areas", 4),
        ("Regional advisory", 3),
    ]
    border = colombia.regions[0].summary
    assert border.startswith("Avoid all travel to the following departments and border areas")
    assert "Arauca" in border and len(border) <= 1000


def test_the_us_do_not_travel_list_is_regions_at_level_4() -> None:
    [venezuela] = us_state_advisories(rss(rss_item(archived("venezuela_L3_2026-03-19"))))
    assert (venezuela.level, venezuela.highest) == (Level.RECONSIDER, Level.DO_NOT_TRAVEL)
    names = [r.name for r in venezuela.regions]
    assert names[:3] == [
        "Venezuela-Colombia border region (20 miles from the border)",
        "Amazonas state",
        "Apure state",
    ]
    assert len(names) == 7 and {r.level for r in venezuela.regions} == {Level.DO_NOT_TRAVEL}
    assert venezuela.regions[0].summary == "Due to the risk of crime, kidnapping, and terrorism."
    [russia] = us_state_advisories(rss(rss_item(archived("russia_L4_2025-12-29"))))
    assert russia.regions == ()  # no list: the whole country is at level 4


def test_the_us_sections_of_a_level_each_are_regions_at_their_level() -> None:
    """Mexico's page: a "Level: 4 - Do not travel" section, then "Level: 3 - Reconsider
    travel", each place a paragraph of its own; the level-2 places add nothing."""
    [mexico] = us_state_advisories(rss(rss_item(archived("mexico_L2_2025-08-12"))))
    assert (mexico.level, mexico.highest) == (Level.CAUTION, Level.DO_NOT_TRAVEL)
    levels = [(r.name, r.level.value) for r in mexico.regions]
    assert levels[0] == ("State of Colima", 4) and levels[6] == ("State of Baja California", 3)
    assert [level for _, level in levels] == [4] * 6 + [3] * 8
    assert mexico.regions[0].summary == "Due to terrorism, crime, and kidnapping."
    # A reader who asked for level 4 hears of Mexico now: six states are do-not-travel.
    assert mexico.in_parts == Level.DO_NOT_TRAVEL


def test_region_names_that_fold_to_nothing_or_to_each_other_never_make_a_page_unreadable() -> None:
    document = json.loads((FIXTURES / "canada" / "cta-cap-co_excerpt_2026-10-06.json").read_text())
    box = '<div class="AdvisoryContainer RegionalAdv"><h3>{} - Avoid all travel</h3><p>x</p></div>'
    hostile = box.format("\u202e\ue000") + box.format("Café") + box.format("Cafe\u0301")
    document["data"]["eng"]["advisories"] = hostile
    colombia = canada_advisory(document)
    assert colombia is not None
    assert [r.name for r in colombia.regions] == ["Café"]  # one, NFC, and no empty name


def test_reading_regions_stays_linear_on_hostile_pages() -> None:
    """Thousands of headings without an end, and of lines all pointing at one long list:
    read in well under a second each, at most 100 regions."""
    document = json.loads((FIXTURES / "canada" / "cta-cap-co_excerpt_2026-10-06.json").read_text())
    document["data"]["eng"]["advisories"] = '<div class="AdvisoryContainer RegionalAdv"><h3>' * 5000
    started = time.monotonic()
    assert canada_advisory(document) is not None
    page = json.loads((FIXTURES / "uk" / "govuk_travel_advice_parts_turkey_2016.json").read_text())
    pointing = "<br>".join(["The FCO advise against all travel to:"] * 2000)
    places = "".join(f"<li>Place {n}</li>" for n in range(2000))
    page["details"]["summary"] = f"<p>{pointing}</p><ul>{places}</ul>"
    turkey = gov_uk_advisory(page)
    assert turkey is not None and len(turkey.regions) == 100
    item = archived("mexico_L2_2025-08-12")
    sections = "".join(f"<h4>Level: 4 - Do not travel</h4><p>Place {n}: Do not travel due to "
                       f"{'crime, ' * 2000}.</p>" for n in range(300))  # fmt: skip
    [mexico] = us_state_advisories(rss(rss_item(item, body=sections)))
    assert len(mexico.regions) == 100
    assert time.monotonic() - started < 5


def test_the_publishers_change_notes_and_minor_flags_are_read() -> None:
    uk = json.loads((FIXTURES / "uk" / "govuk_travel_advice_no_parts.json").read_text())
    read = gov_uk_advisory(uk)
    assert read is not None and (read.change_note, read.minor) == ("Info about the cold.", False)
    minor = gov_uk_advisory({**uk, "update_type": "minor"})
    assert minor is not None and minor.minor and minor.version == read.version
    long = {**uk["details"], "change_description": "Latest update: " + "word " * 100}
    cut = gov_uk_advisory({**uk, "details": long})
    assert cut is not None and len(cut.change_note) <= 300 and cut.change_note.endswith("word…")
    ca = json.loads((FIXTURES / "canada" / "cta-cap-co_excerpt_2026-10-06.json").read_text())
    read = canada_advisory(ca)
    assert read is not None and not read.minor
    assert read.change_note.startswith("Safety and security section – removed information")
    editorial = canada_advisory(
        {**ca, "data": {**ca["data"], "update-metadata": "Editorial change"}}
    )
    assert editorial is not None and editorial.minor

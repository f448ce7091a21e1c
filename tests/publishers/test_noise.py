"""The noise rule, replayed over a month of the US feed's real flip-flopping Venezuela item."""

from __future__ import annotations

from datetime import datetime, timedelta

from support.feeds import archived, markdown_to_html, rss, rss_item

from advisory.domain.models import Advisory, Level
from advisory.publishers.noise import EARLIER, WINDOW, fingerprint, is_news
from advisory.publishers.us_state import advisories as us_state_advisories

DAY = timedelta(days=1).total_seconds()
START = datetime(2026, 4, 1).timestamp()
MARCH, JUNE = archived("venezuela_L3_2026-03-19"), archived("venezuela_L3_2026-06-27")


def fetched(*items: str) -> list[Advisory]:
    return us_state_advisories(rss(*items))


def replay(days: list[list[Advisory]], seen: dict[str, float]) -> list[int]:
    """The days on which something was news; `seen` is updated as a follower would."""
    news = []
    for day, advisories in enumerate(days):
        now = START + day * DAY
        for advisory in advisories:
            if is_news(advisory, seen, now):
                news.append(day)
            seen[fingerprint(advisory)] = now
    return news


def test_a_month_of_flip_flops_dates_empty_bodies_and_duplicates_is_one_alert() -> None:
    march, june = rss_item(MARCH), rss_item(JUNE)
    days = []
    for day in range(30):
        if day == 7:
            days.append(fetched(rss_item(JUNE, body="")))  # an empty body
        elif day == 12:
            days.append(fetched(june, june))  # the same item twice
        elif day == 15:
            days.append(fetched(rss_item(MARCH, date="Mon, 02 Mar 2026")))  # date backwards
        elif day == 20:
            note = markdown_to_html("Reissued April 21, 2026 after review with no edits.\n\n")
            days.append(fetched(rss_item(MARCH, body=note + markdown_to_html(MARCH["content_md"]))))
        else:
            days.append(fetched(june if day % 2 else march))
    known = {fingerprint(fetched(march)[0]): START - DAY}  # March's text was current already
    assert replay(days, known) == [1]  # June's text, the first time it appears


def test_a_real_change_is_news_and_a_long_gone_text_is_news_again() -> None:
    [march] = fetched(rss_item(MARCH))
    seen = {fingerprint(march): START}
    raised = march.model_copy(update={"level": Level(4)})
    assert is_news(raised, seen, START + DAY)
    assert not is_news(march, seen, START + WINDOW.total_seconds())
    assert is_news(march, seen, START + WINDOW.total_seconds() + DAY)
    spaced = march.model_copy(update={"details": march.details.replace(". ", " .  ").upper()})
    assert not is_news(spaced, seen, START + DAY)  # spacing and case are not news
    assert not is_news(march.model_copy(update={"details": " "}), {}, START)


def test_the_version_readers_hold_is_never_news_even_after_a_long_silence() -> None:
    [june] = fetched(rss_item(JUNE))
    current = (fingerprint(june), int(june.level))
    assert not is_news(june, {}, START + 90 * DAY, current=current)  # nothing seen for months
    assert is_news(june, {}, START)  # without a current version, it is the first one


def test_a_flip_flop_seen_before_regions_were_read_stays_noise_after() -> None:
    """A state kept before regions were read (its prints marked by state step 0005):
    re-reading the same March and June texts, regions and all, is news on no day; a real
    change still is."""
    [march], [june] = fetched(rss_item(MARCH)), fetched(rss_item(JUNE))
    assert march.regions and june.regions  # read now: the lists are regions
    without = [a.model_copy(update={"regions": ()}) for a in (march, june)]
    earlier = {f"{EARLIER}{fingerprint(a)}": START - DAY for a in without}  # as kept then
    current = (f"{EARLIER}{fingerprint(without[1])}", 3)  # readers hold June
    for day, advisory in enumerate([june, march, june, march]):
        assert not is_news(advisory, earlier, START + day * DAY, current=current), day
    raised = june.model_copy(update={"level": Level.DO_NOT_TRAVEL})
    assert is_news(raised, earlier, START, current=current)

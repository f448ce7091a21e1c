"""The progress line of a long run: the total, and the time left."""

from __future__ import annotations

from advisory.cli import progress_line
from advisory.run.counts import Counts


def test_the_total_is_estimated_while_the_list_is_still_being_planned() -> None:
    # A tenth of 100,000 readers planned, 1,000 messages due so far, 400 sent in 20 s.
    counts = Counts(due=1000, delivered=398, failed=2, readers=100_000, planned=10_000)
    assert progress_line(counts, 20.0) == (
        "… 400 of about 10,000 messages attempted, 398 delivered; about 8 min left"
    )


def test_once_planned_the_total_is_exact() -> None:
    counts = Counts(due=1, delivered=1, readers=5, planned=5)
    assert progress_line(counts, 3.0) == "… 1 of 1 message attempted, 1 delivered; about 1 s left"


def test_counts_add_up_across_shards() -> None:
    a = Counts(due=3, delivered=2, retrying=1, readers=10, planned=10, errors=["x"])
    b = Counts(due=2, delivered=2, already_sent=4, readers=7, planned=7, errors=["y"])
    total = a + b
    assert (total.due, total.delivered, total.retrying, total.already_sent) == (5, 4, 1, 4)
    assert (total.readers, total.planned, total.errors) == (17, 17, ["x", "y"])
    assert not total.ok and (b + Counts()).ok

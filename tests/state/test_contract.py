"""The state store's contract: what every engine must do, run against each engine (a
new SQLite file; a new PostgreSQL database).

Another engine is one new module, and one more name in `ENGINES`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.models import advisory
from support.postgres import fresh_database

from advisory.state import open_store
from advisory.state.base import Attempt, Document, Entry, Store, Told

ENGINES = ["sqlite", "postgresql"]


@pytest.fixture(params=ENGINES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        with open_store(tmp_path / "state.sqlite3") as opened:
            yield opened
        return
    with fresh_database() as database, open_store(database) as opened:
        yield opened


def entry(
    key: str, recipient: str = "ana@example.org", *, at: float = 100.0, **more: object
) -> Entry:
    fields: dict[str, object] = {"kind": "alert", "advisory": "VE", "version": "v1",
                                 "format": "html", "status": "queued", "created_at": at,
                                 "next_attempt": at} | more  # fmt: skip
    return Entry(key, recipient=recipient, **fields)  # type: ignore[arg-type]


def queue(store: Store, *entries: Entry) -> None:
    with store.transaction():
        store.outbox.enqueue(entries)


def test_a_queued_message_is_sent_once_the_server_accepted_it(store: Store) -> None:
    queue(store, entry("k1"), entry("k2"))
    assert store.outbox.counts() == {"queued": 2}
    store.outbox.record_many([Attempt("k1", "sent", 101.0)])
    sent = store.outbox.entries_for(["k1", "k2"])
    assert sent["k1"].status == "sent" and sent["k1"].sent_at == 101.0
    assert sent["k1"].attempts == 1
    assert sent["k2"].status == "queued"
    assert [e.key for e in store.outbox.entries(status="queued")] == ["k2"]


def test_a_temporary_failure_waits_and_a_permanent_one_ends(store: Store) -> None:
    queue(store, entry("k1"), entry("k2"), entry("k3"))
    store.outbox.record_many([
        Attempt("k1", "temporary", 101.0, "451 try later", retry_at=400.0),
        Attempt("k2", "permanent", 101.0, "550 no such user"),
        Attempt("k3", "temporary", 101.0, "timed out"),  # no retry left: given up
    ])  # fmt: skip
    got = store.outbox.entries_for(["k1", "k2", "k3"])
    assert (got["k1"].status, got["k1"].next_attempt, got["k1"].last_error) == (
        "queued",
        400.0,
        "451 try later",
    )
    assert got["k2"].status == "failed" and got["k3"].status == "failed"
    assert store.outbox.counts() == {"queued": 1, "failed": 2}


def test_a_forced_resend_queues_the_same_message_again(store: Store) -> None:
    queue(store, entry("k1"))
    store.outbox.record_many([Attempt("k1", "sent", 101.0)])
    queue(store, entry("k1", at=200.0, resends=1))
    again = store.outbox.entries_for(["k1"])["k1"]
    assert (again.status, again.attempts, again.resends, again.created_at) == (
        "queued",
        0,
        1,
        200.0,
    )
    assert again.sent_at == 101.0  # delivered once: still counts as received


def test_only_queued_messages_are_cancelled(store: Store) -> None:
    queue(store, entry("k1"), entry("k2"))
    store.outbox.record_many([Attempt("k1", "sent", 101.0)])
    with store.transaction():
        store.outbox.cancel(["k1", "k2"], "no longer due")
    got = store.outbox.entries_for(["k1", "k2"])
    assert got["k1"].status == "sent"
    assert (got["k2"].status, got["k2"].last_error) == ("cancelled", "no longer due")


def test_what_a_reader_holds_is_the_last_delivered_even_when_the_clock_went_back(
    store: Store,
) -> None:
    queue(store, entry("a", version="v1"), entry("b", version="v2"), entry("c", "ben@example.org"))
    store.outbox.record_many([Attempt("a", "sent", 500.0)])
    store.outbox.record_many([Attempt("b", "sent", 100.0)])  # the clock was set back
    held = store.outbox.last_sent_to(["ana@example.org", "ben@example.org"], ["VE"])
    assert held == {("ana@example.org", "VE"): ("v2", "b")}


def test_a_digest_delivered_brings_the_versions_it_carried(store: Store) -> None:
    """A digest of news counts as the alert of each version it told, in delivery order;
    until it is delivered, it brings nothing."""
    ve, co = advisory(), advisory(country="CO", level=2)
    digest = entry("digest", kind="digest", advisory="*", version="daily:2026-12-01T08:00:00")
    queue(store, entry("alert", version="v0"), digest)
    with store.transaction():
        store.outbox.carry("digest", "ana@example.org", [ve, co])
    store.outbox.record_many([Attempt("alert", "sent", 100.0)])
    keys = ["VE", "CO"]
    assert store.outbox.last_sent_to(["ana@example.org"], keys) == {
        ("ana@example.org", "VE"): ("v0", "alert")
    }
    store.outbox.record_many([Attempt("digest", "sent", 50.0)])  # later, whatever the clock
    assert store.outbox.last_sent_to(["ana@example.org"], keys) == {
        ("ana@example.org", "VE"): (ve.version, "digest"),
        ("ana@example.org", "CO"): (co.version, "digest"),
    }
    assert store.outbox.last_sent_to(["ben@example.org"], keys) == {}


def test_entries_come_in_the_order_they_were_queued(store: Store) -> None:
    queue(store, entry("z", at=300.0), entry("a", at=100.0), entry("m", at=200.0))
    assert [e.key for e in store.outbox.entries(status="queued")] == ["z", "a", "m"]


def test_advisory_versions_are_kept_once_as_they_were(store: Store) -> None:
    first, edited = advisory(), advisory(level=3)
    with store.transaction():
        store.outbox.remember(first, 1.0)
        store.outbox.remember(first, 2.0)
    assert store.outbox.advisory(first.version) == first
    assert store.outbox.advisory(edited.version) is None


def test_a_transaction_that_fails_leaves_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.outbox.enqueue([entry("k1")])
        raise RuntimeError("half way")
    assert store.outbox.counts() == {}
    queue(store, entry("k2"))  # and the store takes the next one
    assert store.outbox.counts() == {"queued": 1}


def test_a_write_begun_from_the_loop_is_one_transaction(store: Store) -> None:
    """What `writing` holds (a transaction begun within it too) lands whole or not."""

    async def write(fail: bool) -> None:
        async with store.writing():
            store.outbox.enqueue([entry("k1")])
            with store.transaction():
                store.outbox.record_many([Attempt("k1", "sent", 101.0)])
            if fail:
                raise RuntimeError("half way")

    with pytest.raises(RuntimeError):
        asyncio.run(write(fail=True))
    assert store.outbox.counts() == {}
    asyncio.run(write(fail=False))
    assert store.outbox.counts() == {"sent": 1}


def test_the_publishers_cache_keeps_documents_sightings_and_current_views(store: Store) -> None:
    cache = store.publishers
    view = advisory(publisher="us-state")
    with store.transaction():
        cache.keep_document("https://example.org/feed", Document('"e1"', "Mon", "{}"))
        cache.sighted(view.key, "p1", 10.0, view)
        cache.sighted(view.key, "p1", 20.0)  # a 304: seen again, body kept
        cache.sighted(view.key, "p0", 5.0)
        cache.follow(view, "p1", 20.0)
        cache.fetched("us-state", 20.0, answered=True, changed=[view.key], errors=[])
        cache.fetched("gov-uk", 21.0, answered=False, changed=[], errors=["timed out"])
    assert cache.document("https://example.org/feed") == Document('"e1"', "Mon", "{}")
    assert cache.document("https://example.org/other") == Document()
    assert cache.sightings(view.key) == {"p1": 20.0, "p0": 5.0}
    assert cache.sighting(view.key, "p1") == view
    assert cache.followed() == [view]
    assert cache.current_prints() == {view.key: ("p1", 4)}
    states = cache.states()
    assert (states["us-state"].last_fetch, states["us-state"].changed) == (20.0, view.key)
    assert (states["gov-uk"].last_fetch, states["gov-uk"].last_error) == (None, "timed out")
    with store.transaction():
        cache.forget_sightings(before=10.0)
    assert cache.sightings(view.key) == {"p1": 20.0}


def test_the_suppression_list_keeps_one_entry_per_address(store: Store) -> None:
    assert store.suppressions.suppress("Ana@Example.org", "unsubscribed", 10.0, "one click")
    assert not store.suppressions.suppress("ana@example.org", "bounced", 20.0)  # kept as was
    assert store.suppressions.suppress("ben@example.org", "operator", 5.0)
    assert store.suppressions.among(["ana@example.org", "cy@example.org"]) == {"ana@example.org"}
    assert [(s.address, s.reason, s.since, s.detail) for s in store.suppressions.listed()] == [
        ("ben@example.org", "operator", 5.0, ""),
        ("ana@example.org", "unsubscribed", 10.0, "one click"),
    ]
    assert store.suppressions.unsuppress("ana@example.org")
    assert not store.suppressions.unsuppress("ana@example.org")
    assert store.suppressions.among(["ana@example.org"]) == set()


def told(key: str, recipient: str = "ana@example.org", version: str = "v1", **more: object) -> Told:
    fields: dict[str, object] = {"email": recipient.title(), "name": "Ana", "advisory": "VE",
                                 "country": "VE", "start": "2026-12-03", "end": "2026-12-10",
                                 "token": f"t-{key}"} | more  # fmt: skip
    return Told(key, recipient, version=version, **fields)  # type: ignore[arg-type]


def test_a_travellers_alert_is_asked_acknowledged_once_and_told_to_the_desk_once(
    store: Store,
) -> None:
    queue(store, entry("k1"), entry("k2", "ben@example.org"))
    with store.transaction():
        store.acks.told([told("k1"), told("k2", "ben@example.org", token=None)])
    found = store.acks.asked("t-k1")
    assert found is not None and found.told.email == "Ana@Example.Org" and found.asked
    assert (found.status, found.acked_at, found.latest) == ("queued", None, True)
    assert store.acks.asked("t-nope") is None
    assert [t.told.key for t in store.acks.travellers()] == ["k1"]  # only those asked
    assert store.acks.acknowledge(found.told, 200.0, "web")
    assert not store.acks.acknowledge(found.told, 300.0, "phone")  # the first is kept
    again = store.acks.asked("t-k1")
    assert again is not None and (again.acked_at, again.how) == (200.0, "web")
    assert [t.told.key for t in store.acks.unreported("v1")] == ["k1"]
    store.outbox.record_many([Attempt("k1", "sent", 150.0), Attempt("k2", "sent", 150.0)])
    assert {t.told.key for t in store.acks.open()} == {"k1", "k2"}  # the desk not told yet
    queue(store, entry("desk1", "duty@example.org", kind="summary"))
    with store.transaction():
        store.acks.mark("desk1", "summary", ["k1", "k2"], store.acks.unreported("v1"))
    assert store.acks.open() == []  # told, and k1 acknowledged: nothing left to do
    assert [t.told.key for t in store.acks.told_in("desk1")] == ["k1", "k2"]
    assert [t.told.key for t in store.acks.reported_in("desk1")] == ["k1"]
    assert store.acks.unreported("v1") == []


def test_a_later_alert_of_the_same_advisory_takes_over_the_asking(store: Store) -> None:
    queue(store, entry("k1"), entry("k2", version="v2"))
    with store.transaction():
        store.acks.told([told("k1"), told("k2", version="v2")])
    first, second = store.acks.asked("t-k1"), store.acks.asked("t-k2")
    assert first is not None and second is not None
    assert (first.latest, second.latest) == (False, True)
    assert [t.told.version for t in store.acks.travellers(country="VE")] == ["v2"]
    assert store.acks.travellers(country="CO") == []
    # Queued again for a newer version (a briefing renewed): asks afresh, told afresh.
    queue(store, entry("desk", "duty@example.org", kind="escalation"))
    with store.transaction():
        store.acks.mark("desk", "escalation", ["k2"])
        store.acks.told([told("k2", version="v3", token="t-k2b")])
    renewed = store.acks.asked("t-k2b")
    assert renewed is not None and renewed.escalation is None and renewed.told.version == "v3"

"""The state file: durable settings, states, and read-only use for --dry-run and status."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from advisory.errors import LedgerError
from advisory.state.sqlite import Attempt, Entry, Ledger


def entry(mid: str = "<1@example.org>") -> Entry:
    return Entry(
        mid, "alert", "ana@example.org", "VE", "v1", "html", "queued", 100.0, next_attempt=100.0
    )


def test_queued_then_sent_with_one_row_per_attempt(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    with Ledger(path) as ledger:
        ledger.enqueue([entry()])
        ledger.record_many([Attempt("<1@example.org>", "temporary", 101.0, "451 busy", 150.0)])
        ledger.record_many([Attempt("<1@example.org>", "sent", 151.0)])
    with Ledger(path, readonly=True) as ledger:
        row = ledger.entries_for(["<1@example.org>"])["<1@example.org>"]
        assert (row.status, row.attempts, row.sent_at, row.last_error) == ("sent", 2, 151.0, None)
        attempts = ledger.db.execute("SELECT outcome, error FROM attempts ORDER BY id").fetchall()
        assert attempts == [("temporary", "451 busy"), ("sent", None)]


def test_giving_up_marks_failed_and_cancel_touches_only_queued(tmp_path: Path) -> None:
    with Ledger(tmp_path / "s.sqlite3") as ledger:
        ledger.enqueue([entry("<a@x.org>"), entry("<b@x.org>")])
        ledger.record_many([Attempt("<a@x.org>", "temporary", 101.0, "timed out", None)])
        ledger.cancel(["<a@x.org>", "<b@x.org>"], "no longer due")
        assert ledger.counts() == {"failed": 1, "cancelled": 1}


def test_readonly_never_creates_a_file(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "s.sqlite3"
    with Ledger(path, readonly=True) as ledger:
        assert ledger.counts() == {}
    assert not path.parent.exists()


def test_a_state_file_from_before_sources_keeps_its_history(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    with Ledger(path) as ledger:
        ledger.enqueue([entry()])
        ledger.db.executescript(
            "DROP TABLE sources; DROP TABLE documents; DROP TABLE sightings; DROP TABLE followed;"
            "PRAGMA user_version = 1;"
        )
    with Ledger(path, readonly=True) as ledger:  # read-only: nothing of sources, nothing written
        assert (ledger.followed(), ledger.source_states()) == ([], {})
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (1,)
    with Ledger(path) as ledger:
        assert ledger.db.execute("PRAGMA user_version").fetchone() == (2,)
        assert list(ledger.entries_for(["<1@example.org>"])) == ["<1@example.org>"]
        assert ledger.source_states() == {}


def test_a_file_that_is_not_ours_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (text TEXT)")
    for readonly in (True, False):
        with pytest.raises(LedgerError, match=r"not an advisory state file \(schema 0\)"):
            Ledger(path, readonly=readonly)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT name FROM sqlite_master").fetchall() == [("notes",)]


def test_a_forced_resend_that_fails_keeps_the_record_of_the_delivery(tmp_path: Path) -> None:
    with Ledger(tmp_path / "s.sqlite3") as ledger:
        ledger.enqueue([entry()])
        ledger.record_many([Attempt("<1@example.org>", "sent", 101.0)])
        ledger.enqueue([entry()])  # --force: queued again
        ledger.record_many([Attempt("<1@example.org>", "temporary", 102.0, "421", None)])
        held = ledger.last_sent_to(["ana@example.org"], ["VE"])
    assert held == {("ana@example.org", "VE"): ("v1", "<1@example.org>")}


def test_a_commit_that_fails_leaves_no_transaction_open(tmp_path: Path) -> None:
    """A failed COMMIT (here a deferred constraint; a full disk alike) is rolled back, or
    the connection `serve` keeps would hold the write lock and fail every later job."""
    with Ledger(tmp_path / "state.sqlite3") as ledger:
        ledger.db.execute("PRAGMA foreign_keys = ON")
        ledger.db.execute(
            "CREATE TABLE checks (key TEXT REFERENCES messages (key) DEFERRABLE INITIALLY DEFERRED)"
        )
        with pytest.raises(LedgerError), ledger.transaction():
            ledger.db.execute("INSERT INTO checks VALUES ('no such message')")
        assert not ledger.db.in_transaction
        ledger.enqueue([Entry("k", "alert", "a@example.org", "VE", "v", "text", "queued", 0.0)])
        ledger.record_many([Attempt("k", "sent", 1.0)])
        assert [e.key for e in ledger.entries(status="sent")] == ["k"]


def test_a_state_file_replaced_under_an_open_ledger_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite3"
    with Ledger(state) as ledger:
        ledger.acquire()
        ledger.release()
        state.rename(tmp_path / "moved.sqlite3")
        with pytest.raises(LedgerError, match="replaced or removed while this process had it"):
            ledger.acquire()

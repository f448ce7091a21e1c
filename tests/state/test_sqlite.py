"""The state file: durable settings, states, and read-only use for --dry-run and status."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from advisory.errors import StateBusy, StateError, StorageError
from advisory.state import open_store
from advisory.state.base import Attempt, Entry
from advisory.state.sqlite import db as sqlite_db
from advisory.state.sqlite.migrations import MIGRATIONS


def entry(mid: str = "<1@example.org>") -> Entry:
    return Entry(
        mid, "alert", "ana@example.org", "VE", "v1", "html", "queued", 100.0, next_attempt=100.0
    )


def test_queued_then_sent_with_one_row_per_attempt(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    with open_store(path) as store:
        store.outbox.enqueue([entry()])
        store.outbox.record_many(
            [Attempt("<1@example.org>", "temporary", 101.0, "451 busy", 150.0)]
        )
        store.outbox.record_many([Attempt("<1@example.org>", "sent", 151.0)])
    with open_store(path, readonly=True) as store:
        row = store.outbox.entries_for(["<1@example.org>"])["<1@example.org>"]
        assert (row.status, row.attempts, row.sent_at, row.last_error) == ("sent", 2, 151.0, None)
        attempts = store.db.execute("SELECT outcome, error FROM attempts ORDER BY id").fetchall()
        assert attempts == [("temporary", "451 busy"), ("sent", None)]


def test_giving_up_marks_failed_and_cancel_touches_only_queued(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.sqlite3") as store:
        store.outbox.enqueue([entry("<a@x.org>"), entry("<b@x.org>")])
        store.outbox.record_many([Attempt("<a@x.org>", "temporary", 101.0, "timed out", None)])
        store.outbox.cancel(["<a@x.org>", "<b@x.org>"], "no longer due")
        assert store.outbox.counts() == {"failed": 1, "cancelled": 1}


def test_readonly_never_creates_a_file(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "s.sqlite3"
    with open_store(path, readonly=True) as store:
        assert store.outbox.counts() == {}
    assert not path.parent.exists()


def old_file(path: Path, steps: int) -> None:
    """A state file as an earlier version left it: its first `steps` steps, told in
    `user_version`, with one alert sent to Ana under the old column names."""
    with sqlite3.connect(path) as db:
        db.executescript("".join(m.script for m in MIGRATIONS[:steps]))
        db.execute(
            "INSERT INTO messages (key, kind, recipient, country, version, format, status, "
            "created_at, sent_at) VALUES ('k1', 'alert', 'ana@example.org', 'VE', 'v1', "
            "'html', 'sent', 100, 101)"
        )
        db.execute(f"PRAGMA user_version = {steps}")


@pytest.mark.parametrize("steps", [1, 2])
def test_a_state_file_from_before_named_steps_is_upgraded_with_its_history(
    tmp_path: Path, steps: int
) -> None:
    path = tmp_path / "s.sqlite3"
    old_file(path, steps)
    before = path.read_bytes()
    with open_store(path, readonly=True) as store:  # read-only: upgraded in memory only
        assert store.outbox.last_sent_to(["ana@example.org"], ["VE"]) == {
            ("ana@example.org", "VE"): ("v1", "k1")
        }
        assert (store.publishers.followed(), store.publishers.states()) == ([], {})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.sqlite3"]
    with open_store(path) as store:
        assert store.outbox.entries_for(["k1"])["k1"].advisory == "VE"
        assert store.outbox.last_sent_to(["ana@example.org"], ["VE"]) == {
            ("ana@example.org", "VE"): ("v1", "k1")
        }
    with sqlite3.connect(path) as db:
        names = [n for (n,) in db.execute("SELECT name FROM migrations ORDER BY rowid")]
    assert names == [m.name for m in MIGRATIONS]


def test_a_state_file_from_before_the_checks_were_comparisons_keeps_every_row(
    tmp_path: Path,
) -> None:
    """Upgraded to checks SQLite need not build a table for at each row: the messages
    in their order (the order they are sent in), the attempts with their ids, the
    queued one still sent, and a value outside the list still refused."""
    path = tmp_path / "s.sqlite3"
    steps = [m.name for m in MIGRATIONS].index("0011-checks-without-lists")
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL);"
            + "".join(m.script for m in MIGRATIONS[:steps])
            + "".join(f"INSERT INTO migrations VALUES ('{m.name}', 0);" for m in MIGRATIONS[:steps])
            + "PRAGMA user_version = 100;"
        )
        columns = "key, kind, recipient, advisory, version, format, status, created_at"
        db.execute(
            f"INSERT INTO messages ({columns}, sent_at, sent_seq) VALUES "
            "('<z@x.org>', 'alert', 'z@x.org', 'VE', 'v1', 'html', 'sent', 100, 101, 7)"
        )
        db.execute(
            f"INSERT INTO messages ({columns}, next_attempt) VALUES "
            "('<a@x.org>', 'alert', 'a@x.org', 'VE', 'v1', 'html', 'queued', 100, 100)"
        )
        db.execute("INSERT INTO attempts VALUES (7, '<z@x.org>', 101, 'sent', NULL)")
    with open_store(path) as store:
        order = store.db.execute("SELECT key, sent_seq FROM messages ORDER BY rowid").fetchall()
        assert order == [("<z@x.org>", 7), ("<a@x.org>", None)]
        assert [e.key for e in store.outbox.entries(status="queued")] == ["<a@x.org>"]
        store.outbox.record_many([Attempt("<a@x.org>", "sent", 102.0)])
        ids = store.db.execute("SELECT id, key FROM attempts ORDER BY id").fetchall()
        assert ids == [(7, "<z@x.org>"), (8, "<a@x.org>")]
        with pytest.raises(sqlite3.IntegrityError):
            store.db.execute("UPDATE messages SET status = 'lost' WHERE key = '<a@x.org>'")
        with pytest.raises(sqlite3.IntegrityError):
            store.db.execute("UPDATE attempts SET outcome = 'maybe' WHERE id = 7")
        tables = store.db.execute(
            "SELECT sql FROM sqlite_master WHERE name IN ('messages', 'attempts')"
        ).fetchall()
        assert len(tables) == 2 and not [sql for (sql,) in tables if " IN (" in sql]


def test_a_state_file_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    with open_store(path):
        pass
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO migrations VALUES ('9999-from-the-future', 0)")
    for readonly in (True, False):
        with pytest.raises(StateError, match=r"newer version of advisory \(step 9999"):
            open_store(path, readonly=readonly)


def test_a_file_that_is_not_ours_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (text TEXT)")
    for readonly in (True, False):
        with pytest.raises(StateError, match=r"not an advisory state file \(schema 0\)"):
            open_store(path, readonly=readonly)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT name FROM sqlite_master").fetchall() == [("notes",)]


def test_one_run_at_a_time(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.sqlite3") as store, open_store(tmp_path / "s.sqlite3") as other:
        store.acquire()
        with pytest.raises(StateBusy):
            other.acquire()
        store.release()
        other.acquire()
        other.release()


def test_a_forced_resend_that_fails_keeps_the_record_of_the_delivery(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.sqlite3") as store:
        store.outbox.enqueue([entry()])
        store.outbox.record_many([Attempt("<1@example.org>", "sent", 101.0)])
        store.outbox.enqueue([replace(entry(), resends=1)])  # --force: queued again
        store.outbox.record_many([Attempt("<1@example.org>", "temporary", 102.0, "421", None)])
        held = store.outbox.last_sent_to(["ana@example.org"], ["VE"])
    assert held == {("ana@example.org", "VE"): ("v1", "<1@example.org>")}


def test_a_commit_that_fails_leaves_no_transaction_open(tmp_path: Path) -> None:
    """A failed COMMIT (here a deferred constraint; a full disk alike) is rolled back, or
    the connection `serve` keeps would hold the write lock and fail every later job."""
    with open_store(tmp_path / "state.sqlite3") as store:
        store.db.execute("PRAGMA foreign_keys = ON")
        store.db.execute(
            "CREATE TABLE checks (key TEXT REFERENCES messages (key) DEFERRABLE INITIALLY DEFERRED)"
        )
        with pytest.raises(StateError), store.transaction():
            store.db.execute("INSERT INTO checks VALUES ('no such message')")
        assert not store.db.in_transaction
        store.outbox.enqueue(
            [Entry("k", "alert", "a@example.org", "VE", "v", "text", "queued", 0.0)]
        )
        store.outbox.record_many([Attempt("k", "sent", 1.0)])
        assert [e.key for e in store.outbox.entries(status="sent")] == ["k"]


# Another shard's process: holds the write lock, as its commits do, until told.
HOLD = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("held", flush=True)
sys.stdin.readline()
db.execute("COMMIT")
"""


def held(path: Path) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    return holder


def test_a_write_waiting_for_another_process_lets_the_loop_go_on(tmp_path: Path) -> None:
    """A shard whose turn to write has not come goes on sending meanwhile; its
    write then lands whole, what was begun within it included."""
    path = tmp_path / "state.sqlite3"
    open_store(path).close()

    async def write(holder: subprocess.Popen[str]) -> None:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        async def written() -> None:
            with open_store(path) as store:
                async with store.writing():
                    store.outbox.enqueue([entry()])
                    store.outbox.record_many([Attempt("<1@example.org>", "sent", 101.0)])

        ticker = asyncio.create_task(tick())
        writer = asyncio.create_task(written())
        while ticks < 10:  # (SQLite's own wait would stop the loop: no tick, ever)
            await asyncio.sleep(0.01)
        assert not writer.done()
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        await asyncio.wait_for(writer, timeout=10)
        ticker.cancel()

    with held(path) as holder:
        asyncio.run(asyncio.wait_for(write(holder), timeout=30))
        assert holder.wait(timeout=10) == 0
    with open_store(path, readonly=True) as store:
        assert [e.key for e in store.outbox.entries(status="sent")] == ["<1@example.org>"]


def test_a_turn_to_write_that_never_comes_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_db, "BUSY_TIMEOUT", 0.2)
    path = tmp_path / "state.sqlite3"
    open_store(path).close()

    async def write() -> None:
        with open_store(path) as store:
            async with store.writing():
                store.outbox.enqueue([entry()])

    with held(path) as holder, pytest.raises(StorageError) as caught:
        try:
            asyncio.run(write())
        finally:
            holder.kill()
    assert str(caught.value) == f"{path}: another program holds the state file; try again later"


def test_a_state_file_replaced_under_an_open_store_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite3"
    with open_store(state) as store:
        store.acquire()
        store.release()
        state.rename(tmp_path / "moved.sqlite3")
        with pytest.raises(StateError, match="replaced or removed while this process had it"):
            store.acquire()


def test_an_upgraded_file_orders_what_a_reader_holds_by_its_attempts_not_its_clock(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.sqlite3"
    old_file(path, 2)  # k1: v1 sent to Ana at 101
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO messages (key, kind, recipient, country, version, format, status, "
            "created_at, sent_at) VALUES ('k2', 'alert', 'ana@example.org', 'VE', 'v2', "
            "'html', 'sent', 40, 50)"  # sent after k1, with the clock set back
        )
        db.executemany(
            "INSERT INTO attempts (id, key, at, outcome) VALUES (?, ?, ?, 'sent')",
            [(1, "k1", 101.0), (2, "k2", 50.0)],
        )
    with open_store(path) as store:
        assert store.outbox.last_sent_to(["ana@example.org"], ["VE"]) == {
            ("ana@example.org", "VE"): ("v2", "k2")
        }


def test_fingerprints_kept_before_regions_are_marked_so(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    old_file(path, 2)
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO sightings VALUES ('VE@us-state', 'f1', 10, NULL)")
        db.execute("INSERT INTO followed VALUES ('VE@us-state', '{}', 10, 'f1', 3)")
    with open_store(path) as store:
        assert store.publishers.sightings("VE@us-state") == {"bare:f1": 10}
        assert store.publishers.current_prints() == {"VE@us-state": ("bare:f1", 3)}


def test_what_readers_hold_is_read_within_the_oldest_sqlite_limit_on_variables(
    tmp_path: Path,
) -> None:
    """SQLite before 3.32 binds at most 999 values per query: a batch of 1,000 readers
    must still be looked up (each recipient is bound twice, for alerts and digests)."""
    with open_store(tmp_path / "s.sqlite3") as store:
        store.db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
        readers = [f"p{i}@example.org" for i in range(1000)]
        assert store.outbox.last_sent_to(readers, ["VE"]) == {}

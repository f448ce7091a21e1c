"""What the PostgreSQL engine does beyond the contract: processes sharing one outbox by
claims and leases, one leader per job, and its schema made once by many at a time."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from support.postgres import PrivateServer

from advisory.domain.urls import Database
from advisory.errors import StateBusy, StorageError
from advisory.state import open_store
from advisory.state.base import Attempt, Entry, Store
from advisory.state.postgresql import PgStore


def queued(store: Store, *keys: str) -> None:
    with store.transaction():
        store.outbox.enqueue(Entry(k, "alert", f"{k}@example.org", "VE", "v1", "html", "queued",
                                   1.0, next_attempt=1.0) for k in keys)  # fmt: skip


def test_two_processes_claim_each_message_once(postgresql: Database) -> None:
    keys = [f"k{i}" for i in range(20)]
    with open_store(postgresql) as one, open_store(postgresql) as two:
        queued(one, *keys)
        first = one.outbox.claim(keys[:12], lease=60)
        second = two.outbox.claim(keys, lease=60)
        assert sorted(first + second) == sorted(keys) and not set(first) & set(second)
        assert set(one.outbox.claim(keys, lease=60)) == set(first)  # its own, not the other's
        two.outbox.record_many([Attempt(k, "sent", 2.0) for k in second])
        assert set(one.outbox.claim(keys, lease=60)) == set(first)  # what is sent is no one's


def test_a_claim_not_renewed_is_free_after_the_lease_and_one_renewed_is_not(
    postgresql: Database,
) -> None:
    with open_store(postgresql) as one, open_store(postgresql) as two:
        queued(one, "kept", "left")
        assert one.outbox.claim(["kept"], lease=1) == ["kept"]
        assert two.outbox.claim(["left"], lease=1) == ["left"]
        time.sleep(0.6)
        one.outbox.renew(lease=1)  # one still works on what it holds; two said nothing
        time.sleep(0.6)
        assert two.outbox.claim(["kept"], lease=60) == []
        assert one.outbox.claim(["left"], lease=60) == ["left"]


def test_what_a_process_gives_back_is_free_at_once(postgresql: Database) -> None:
    with open_store(postgresql) as one, open_store(postgresql) as two:
        queued(one, "k1", "k2")
        assert set(one.outbox.claim(["k1", "k2"], lease=60)) == {"k1", "k2"}
        one.outbox.unclaim()
        assert set(two.outbox.claim(["k1", "k2"], lease=60)) == {"k1", "k2"}


def test_one_leader_per_job_and_a_dead_one_is_replaced(postgresql: Database) -> None:
    one, two = PgStore(postgresql), PgStore(postgresql)
    try:
        with one.lead("duty") as leading:
            assert leading
            with two.lead("duty") as second, two.lead("fetch") as other_job:
                assert not second and other_job  # one job led by one, another by another
        with two.lead("duty") as leading:
            assert leading  # let go at the end of the block
        with one.lead("digest") as leading:
            assert leading
            one.close()  # its session ends (a process that died): it leads nothing
            with two.lead("digest") as taken:
                assert taken
    finally:
        two.close()


def test_a_run_at_a_time_in_one_process_and_many_processes_at_once(postgresql: Database) -> None:
    with open_store(postgresql) as one, open_store(postgresql) as two:
        one.acquire()
        with pytest.raises(StateBusy):
            one.acquire()
        two.acquire()  # another process runs beside it
        one.release()
        two.release()


def test_many_opening_a_new_database_at_once_make_it_once(postgresql: Database) -> None:
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            open_store(postgresql).close()
        except BaseException as e:  # (reported below)
            errors.append(e)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with psycopg.connect(postgresql.url) as db:
        names = db.execute("SELECT name FROM migrations ORDER BY name").fetchall()
        assert names == [("0001-state",), ("0002-quiet-plans",)]


def test_a_reader_open_holds_no_writer_back(postgresql: Database) -> None:
    open_store(postgresql).close()
    with open_store(postgresql, readonly=True) as reader:
        started = time.monotonic()
        with open_store(postgresql) as writer:
            queued(writer, "k1")
        assert time.monotonic() - started < 5
        assert reader.outbox.counts() == {"queued": 1}  # and it reads what is committed


def test_a_store_open_across_a_server_restart_says_so_once_then_goes_on(
    private_postgresql: PrivateServer,
) -> None:
    server = private_postgresql
    with psycopg.connect(server.url(), password=server.PASSWORD, autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS kept_open")
        admin.execute("CREATE DATABASE kept_open")
    database = Database(server.url("kept_open"), server.PASSWORD)
    with open_store(database) as store:  # as `serve` holds it
        queued(store, "k1")
        server.stop()
        try:
            with pytest.raises(StorageError, match=r"cannot reach the server"):
                store.outbox.counts()
        finally:
            server.start()
        queued(store, "k2")  # a new connection, at the next use
        assert store.outbox.counts() == {"queued": 2}


def test_a_leader_that_lost_its_session_stops_leading(postgresql: Database) -> None:
    one, two = PgStore(postgresql), PgStore(postgresql)
    try:
        with one.lead("duty") as leading:
            assert leading
            pid = one.pg.run("SELECT pg_backend_pid()").fetchone()[0]
            with psycopg.connect(postgresql.url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            with pytest.raises(StorageError):  # not a new session, leading nothing
                one.outbox.counts()
            with pytest.raises(StorageError, match="while this process led a job"):
                one.outbox.counts()
            with two.lead("duty") as taken:
                assert taken  # the lead went with the session, to whoever asks next
        assert one.outbox.counts() == {}  # after the job, a new session
    finally:
        one.close()
        two.close()

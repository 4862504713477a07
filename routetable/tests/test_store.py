"""The contract every backend keeps: persisted, audited, atomic, seen by other readers."""

from __future__ import annotations

import threading
import time

from routetable import Mode, RouteState, RouteStore, RouteTable, StoreError, open_store

CANARY_10 = RouteState(Mode.CANARY, 10)


def test_an_empty_store_has_every_route_on_the_monolith(store: RouteStore) -> None:
    snap = store.load()
    assert snap.version == 0
    assert snap.get("payments") == RouteState(Mode.MONOLITH)
    assert store.history() == []


def test_a_change_is_persisted_and_audited(store: RouteStore) -> None:
    change = store.set_state("payments", CANARY_10, who="alice")
    store.set_state("payments", RouteState(Mode.EXTRACTED), who="bob")

    reopened = open_store(store.url)
    try:
        snap = reopened.load()
        assert snap.get("payments") == RouteState(Mode.EXTRACTED)
        assert snap.version == 2
        history = reopened.history()
    finally:
        reopened.close()
    assert [(c.who, str(c.before), str(c.after)) for c in history] == [
        ("alice", "monolith", "canary 10"),
        ("bob", "canary 10", "extracted"),
    ]
    assert history[0].at == change.at
    assert history[0].at.tzinfo is not None


def test_history_filters_by_route_and_limits(store: RouteStore) -> None:
    for percent in (1, 2, 3):
        store.set_state("payments", RouteState(Mode.CANARY, percent), who="ci")
    store.set_state("inventory", RouteState(Mode.SHADOW), who="ci")
    assert [str(c.after) for c in store.history("payments", limit=2)] == ["canary 2", "canary 3"]
    assert [c.route for c in store.history("inventory")] == ["inventory"]


def test_the_stamp_changes_with_every_write(store: RouteStore) -> None:
    before = store.stamp()
    store.set_state("payments", RouteState(Mode.SHADOW), who="ci")
    after = store.stamp()
    assert after != before
    store.set_state("payments", RouteState(Mode.SHADOW), who="ci")
    assert store.stamp() != after


def test_concurrent_writers_lose_no_change(store_url: str) -> None:
    def writer(name: str) -> None:
        own = open_store(store_url)
        try:
            for i in range(10):
                # A write past the store's deadline (a loaded machine) fails; retried with
                # its change id it lands once, whether or not the failed try committed.
                deadline = time.monotonic() + 30
                while True:
                    try:
                        own.set_state(
                            name, RouteState(Mode.CANARY, i + 1), who=name, change_id=f"{name}-{i}"
                        )
                        break
                    except StoreError:
                        assert time.monotonic() < deadline, "the store never took the write"
        finally:
            own.close()

    threads = [threading.Thread(target=writer, args=(f"r{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reader = open_store(store_url)
    try:
        snap = reader.load()
        assert snap.version == 40
        assert {snap.get(f"r{n}").percent for n in range(4)} == {10}
        assert len(reader.history(limit=0)) == 40
    finally:
        reader.close()


def test_another_reader_sees_a_change_within_a_second(store_url: str) -> None:
    writer, reader_store = open_store(store_url), open_store(store_url)
    reader = RouteTable(reader_store)
    try:
        reader.refresh()
        writer.set_state("payments", RouteState(Mode.EXTRACTED), who="alice")
        deadline = time.monotonic() + 1.0
        while reader.state_of("payments").mode is not Mode.EXTRACTED:
            assert time.monotonic() < deadline, "the change did not reach the reader within 1 s"
            time.sleep(0.01)
    finally:
        writer.close()
        reader_store.close()


def test_a_forked_child_refreshes_even_if_a_parent_thread_held_the_lock(store_url: str) -> None:
    import os

    table = RouteTable(open_store(store_url))
    table.refresh()
    writer = open_store(store_url)
    writer.set_state("payments", RouteState(Mode.EXTRACTED), who="ci")
    writer.close()
    with table._lock:  # a background refresh of the parent, mid-flight at the fork
        pid = os.fork()
        if pid == 0:  # the child: exits 0 only if it sees the change
            os._exit(0 if table.refresh() else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    table.store.close()

"""The route table under store faults (issue 15), on every store: stopped, partitioned,
wiped, a bad entry, a bad history item, a missing version, a reply lost after commit,
the store down at start. Two readers stand for two proxies. For each fault: no reader
serves a state the last good table did not name, no change is lost or applied twice,
every reader converges within 1 s of the repair, and the message says what to do."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from routetable import RestoreRefused, RouteTable, StoreError, StoreRefused, open_store
from tests.routetable.conftest import (
    CANARY_30,
    EXTRACTED,
    MONOLITH,
    SHADOW,
    TIMEOUT,
    Backend,
    Fleet,
    table_on,
)


def ids_in_history(table: RouteTable, change_id: str) -> int:
    return sum(c.id == change_id for c in table.store.history(limit=0))


def test_a_bad_entry_keeps_that_routes_state_and_never_stops_the_others(
    backend: Backend, fleet: Fleet, caplog: pytest.LogCaptureFixture
) -> None:
    backend.bad_entry("inventory")
    fleet.writer.set_state("payments", SHADOW, who="ci")  # a later change of another route
    fleet.converge(lambda t: t.snapshot.get("payments") == SHADOW)
    for table in fleet.tables:
        assert table.snapshot.get("inventory") == CANARY_30  # its last good state
        assert "inventory" in table.snapshot.problems
    [message] = {
        r.getMessage() for r in caplog.records if "'inventory'" in r.getMessage()
    }  # said once, the same for every reader
    assert "is unreadable, keeping canary 30" in message and '"mode"' in message
    fleet.writer.set_state("inventory", MONOLITH, who="ci")  # the repair
    fleet.converge(lambda t: t.snapshot.get("inventory") == MONOLITH and not t.snapshot.problems)


def test_a_wiped_store_moves_no_route_until_an_operator_restores_it(
    backend: Backend, fleet: Fleet, tmp_path: Path
) -> None:
    backend.wipe()
    fleet.converge(lambda t: t.last_error is not None and "is empty" in t.last_error)
    fleet.assert_serving_last_good()
    assert all(t.snapshot.version == 2 for t in fleet.tables)
    assert "carve routes restore" in str(fleet.readers[0].last_error)
    with pytest.raises(StoreRefused, match="is empty"):
        fleet.readers[0].set_state("payments", MONOLITH, who="ci")

    # a process that never held the table writes the wiped store: a new, lower table
    accident = open_store(backend.url, timeout=TIMEOUT)
    accident.set_state("payments", MONOLITH, who="accident")
    accident.close()
    fleet.converge(lambda t: t.last_error is not None and "another generation" in t.last_error)
    fleet.assert_serving_last_good()

    # the accident's change is committed in another generation: discarded only on --force
    with pytest.raises(RestoreRefused, match="another generation.*would discard.*--force"):
        fleet.readers[0].restore(who="operator")
    _, restored = fleet.readers[0].restore(who="operator", force=True)
    assert restored is not None
    assert restored.version == 3  # above every version any reader held
    fleet.converge(lambda t: t.snapshot.version == 3 and t.last_error is None)
    fleet.assert_serving_last_good()
    fleet.writer.set_state("payments", SHADOW, who="ci")  # writes go on from there
    fleet.converge(lambda t: t.snapshot.version == 4)


def test_a_missing_version_moves_no_route_and_refuses_writes(
    backend: Backend, fleet: Fleet
) -> None:
    backend.delete_version()
    fleet.converge(lambda t: t.last_error is not None and "version" in t.last_error)
    fleet.assert_serving_last_good()
    with pytest.raises(StoreError):
        fleet.writer.set_state("payments", MONOLITH, who="ci")
    fleet.readers[1].restore(who="operator")
    fleet.converge(lambda t: t.snapshot.version == 3 and t.last_error is None)
    fleet.assert_serving_last_good()


def test_a_bad_history_item_hides_nothing_else(backend: Backend, fleet: Fleet) -> None:
    backend.bad_history_item()
    assert [str(c.after) for c in fleet.writer.store.history(limit=0)] == [
        "extracted",
        "canary 30",
    ]
    fleet.writer.set_state("payments", SHADOW, who="ci")
    fleet.converge(lambda t: t.snapshot.get("payments") == SHADOW)
    assert len(fleet.readers[0].store.history(limit=0)) == 3


def test_a_stopped_store_is_served_from_the_last_table_and_refuses_changes_at_once(
    backend: Backend, fleet: Fleet
) -> None:
    backend.stop()
    start = time.monotonic()
    assert not fleet.readers[0].refresh()
    assert time.monotonic() - start < TIMEOUT + 0.5
    assert fleet.readers[0].last_error
    start = time.monotonic()
    with pytest.raises(StoreError):
        fleet.writer.set_state("payments", MONOLITH, who="ci", change_id="during-outage")
    assert time.monotonic() - start < 2 * TIMEOUT + 0.5
    fleet.assert_serving_last_good()
    backend.repair()
    fleet.converge(lambda t: t.last_error is None)  # a table that saw the store fail, sees it back
    fleet.writer.set_state("payments", SHADOW, who="ci")
    took = fleet.converge(lambda t: t.snapshot.get("payments") == SHADOW and t.last_error is None)
    assert took < 1.0
    assert ids_in_history(fleet.writer, "during-outage") == 0  # refused means not written


def test_a_partition_blocks_no_reader_and_a_retried_change_lands_once(
    backend: Backend, fleet: Fleet
) -> None:
    eager = RouteTable(open_store(backend.url, timeout=TIMEOUT), max_age=0)  # checks each time
    eager.refresh()
    backend.partition()
    reader = fleet.readers[0]
    stuck = threading.Thread(target=reader.refresh)  # a refresh the network swallows
    stuck.start()
    for table in (reader, eager):  # the write path's reads answer from the snapshot meanwhile
        for _ in range(10):
            start = time.monotonic()
            assert table.state_of("payments") == EXTRACTED
            assert time.monotonic() - start < 0.1
    start = time.monotonic()
    with pytest.raises(StoreError):  # the reply may be lost after the commit
        fleet.writer.set_state("inventory", SHADOW, who="ci", change_id="c-1")
    assert time.monotonic() - start < 2 * TIMEOUT + 0.5
    stuck.join(timeout=2 * TIMEOUT + 0.5)
    assert not stuck.is_alive()
    backend.repair()
    fleet.converge(lambda t: t.last_error is None)  # until then a change is refused unsent
    change = fleet.writer.set_state("inventory", SHADOW, who="ci", change_id="c-1")  # retried
    assert change.id == "c-1"
    assert ids_in_history(fleet.writer, "c-1") == 1
    fleet.converge(lambda t: t.snapshot.get("inventory") == SHADOW and t.last_error is None)
    assert fleet.writer.snapshot.version == 3
    eager.store.close()


def test_a_change_id_is_applied_once(backend: Backend, fleet: Fleet) -> None:
    first = fleet.writer.set_state("payments", SHADOW, who="ci", change_id="same")
    fleet.writer.set_state("inventory", MONOLITH, who="ci")
    again = fleet.readers[0].set_state("payments", SHADOW, who="ci", change_id="same")
    assert again == first and again.version == 3
    assert fleet.writer.store.change("same") == first
    assert fleet.writer.store.change("never") is None
    assert ids_in_history(fleet.writer, "same") == 1
    fleet.converge(lambda t: t.snapshot.version == 4)


def test_a_reader_starts_from_its_local_snapshot_while_the_store_is_down(
    backend: Backend, fleet: Fleet, tmp_path: Path
) -> None:
    path = tmp_path / "snapshot.json"
    first = table_on(backend.url, snapshot_path=path)
    assert first.refresh() and path.exists()
    first.store.close()
    backend.stop()
    started = table_on(backend.url, snapshot_path=path)
    try:
        assert started.source == "disk" and started.loaded
        assert not started.refresh()
        assert started.snapshot.get("payments") == EXTRACTED
        assert started.snapshot.get("inventory") == CANARY_30
        backend.repair()
        fleet.writer.set_state("payments", SHADOW, who="ci")
        deadline = time.monotonic() + 1.0
        while not (started.refresh() or started.source == "store"):
            assert time.monotonic() < deadline
        assert started.snapshot.get("payments") == SHADOW
    finally:
        started.store.close()


def test_a_reader_starting_on_a_wiped_store_keeps_its_local_snapshot(
    backend: Backend, fleet: Fleet, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "snapshot.json"
    first = table_on(backend.url, snapshot_path=path)
    first.refresh()
    first.store.close()
    backend.wipe()
    started = table_on(backend.url, snapshot_path=path)
    try:
        with caplog.at_level(logging.ERROR, logger="carve.routetable"):
            started.refresh()
        assert started.snapshot.get("payments") == EXTRACTED
        assert any("carve routes restore" in r.getMessage() for r in caplog.records)
    finally:
        started.store.close()

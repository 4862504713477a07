"""The route table against the outside attack on issue 15: whatever bytes a store holds
(a huge number, deep nesting, a unicode digit, garbage records, a route added or lost by
hand), no reader moves a route the last good table did not name, no change is frozen, and
every message names the key and the fix. Each class of hole on every store."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from messaging.testing import wait_until
from routetable import (
    BadRecord,
    RestoreRefused,
    RouteTable,
    StoreDown,
    StoreError,
    StoreRefused,
    open_store,
)
from routetable import table as table_module
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

DEEP = 3000  # past Python's recursion limit: json.loads raises RecursionError
ONLY_FILE_AND_REDIS = [  # a version kept in a PostgreSQL bigint cannot hold a text
    "file",
    pytest.param("redis", marks=pytest.mark.real),
]


def deep(backend: Backend, depth: int = DEEP) -> str:
    # The file store is one JSON document: an entry nested past what json.loads follows
    # makes the whole file unreadable (a store error, the table kept); below, one bad entry.
    depth = min(depth, 150) if backend.kind == "file" else depth
    return "[" * depth + "]" * depth


BAD_ENTRIES = {
    "overflowing percent": lambda b: '{"mode": "canary", "percent": 1e400}',
    "bare huge number": lambda b: "1e400",
    "deep nesting": deep,
    "deep nesting in the object": lambda b: '{"mode": "canary", "percent": ' + deep(b, 40) + "}",
    "float percent": lambda b: '{"mode": "canary", "percent": 30.0}',
    "bool percent": lambda b: '{"mode": "canary", "percent": true}',
    "null": lambda b: "null",
    "a list": lambda b: "[]",
    "a huge text": lambda b: '"' + "x" * 100_000 + '"',
}


@pytest.mark.parametrize("payload", BAD_ENTRIES, ids=list(BAD_ENTRIES))
def test_any_bad_entry_keeps_its_route_and_stops_nothing(
    backend: Backend, fleet: Fleet, payload: str, caplog: pytest.LogCaptureFixture
) -> None:
    backend.raw_entry("inventory", BAD_ENTRIES[payload](backend))
    fleet.writer.set_state("payments", SHADOW, who="ci")  # another route's change lands
    fleet.converge(lambda t: t.snapshot.get("payments") == SHADOW and t.last_error is None)
    for table in fleet.tables:
        assert table.snapshot.get("inventory") == CANARY_30  # its last good state
        assert 'write {"mode"' in table.snapshot.problems["inventory"]  # the fix
    assert any(
        "'inventory'" in r.getMessage() and "keeping canary 30" in r.getMessage()
        for r in caplog.records
    )
    fleet.writer.set_state("inventory", MONOLITH, who="ci")  # the repair is picked up
    fleet.converge(lambda t: t.snapshot.get("inventory") == MONOLITH and not t.snapshot.problems)


def test_a_bad_history_or_change_record_is_named_and_hides_nothing(
    backend: Backend, fleet: Fleet
) -> None:
    for text in ("1e400", deep(backend), '{"route": 1e400}', '"garbage"'):
        backend.raw_history_item(text)
    backend.raw_change_record("cid-bad", deep(backend))
    report = fleet.writer.store.history_report(limit=0)
    assert [str(c.after) for c in report.changes] == ["extracted", "canary 30"]
    assert len(report.problems) >= 4 and all("unreadable" in p for p in report.problems)
    with pytest.raises(BadRecord, match="cid-bad.*(was applied)"):
        fleet.writer.store.change("cid-bad")
    with pytest.raises(BadRecord, match="cid-bad"):  # a retry under that id: not a crash
        fleet.writer.set_state("payments", SHADOW, who="ci", change_id="cid-bad")
    fleet.writer.set_state("payments", SHADOW, who="ci", change_id="cid-good")
    assert fleet.writer.store.change("cid-good") is not None


def test_an_unknown_route_added_by_hand_is_ignored_and_blocks_no_change(
    backend: Backend, fleet: Fleet, caplog: pytest.LogCaptureFixture
) -> None:
    backend.raw_entry("rogue", '{"mode": "extracted", "percent": 0}', bump=False)
    fleet.writer.set_state("payments", SHADOW, who="ci")
    fleet.converge(lambda t: t.snapshot.get("payments") == SHADOW and t.last_error is None)
    for table in fleet.tables:
        assert "rogue" not in table.snapshot.states
        assert "was not written by carve" in table.snapshot.problems["rogue"]
    assert any("'rogue'" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    fleet.writer.set_state("rogue", EXTRACTED, who="ci")  # set on purpose: it is known now
    fleet.converge(lambda t: t.snapshot.get("rogue") == EXTRACTED and not t.snapshot.problems)


@pytest.mark.parametrize("older_schema", [False, True], ids=["names recorded", "older schema"])
def test_a_table_that_lost_its_routes_is_never_adopted(
    backend: Backend, fleet: Fleet, older_schema: bool
) -> None:
    """TRUNCATE of the state table (or `"routes": {}`) keeping the version, also on a store
    upgraded from a schema that recorded no count: then a change, even by a process that
    held nothing, must not move the routes it lost."""
    if older_schema:
        backend.forget_names()
    backend.drop_states()
    with pytest.raises(StoreError, match="lost"):  # a writer holding them is refused
        fleet.writer.set_state("payments", SHADOW, who="ci")
    accident = open_store(backend.url, timeout=TIMEOUT)  # a process that held nothing
    try:
        accident.set_state("orders", SHADOW, who="accident")
    except StoreError as exc:
        assert "lost" in str(exc) and "carve routes restore" in str(exc)
    finally:
        accident.close()
    fleet.converge(lambda t: t.last_error is not None and "lost" in t.last_error)
    fleet.assert_serving_last_good()
    assert "carve routes restore" in str(fleet.readers[0].last_error)
    fleet.readers[0].restore(who="operator")
    fleet.converge(lambda t: t.last_error is None and t.snapshot.get("orders") == MONOLITH)
    fleet.assert_serving_last_good()


@pytest.mark.parametrize("backend", ONLY_FILE_AND_REDIS, indirect=True)
def test_a_version_in_unicode_digits_is_a_named_store_error(backend: Backend, fleet: Fleet) -> None:
    if backend.kind == "redis":
        backend.client.set(f"{backend.prefix}version", "²")  # type: ignore[attr-defined]
    else:
        backend.raw_entry("payments", '{"mode": "extracted", "percent": 0}', bump=False)
        backend._edit(lambda document: document.update(version="²"))  # type: ignore[attr-defined]
    with pytest.raises(StoreError, match="version"):  # not a ValueError: a PUT answers 503
        fleet.writer.set_state("payments", SHADOW, who="ci")
    fleet.converge(lambda t: t.last_error is not None and "version" in t.last_error)
    fleet.assert_serving_last_good()


def test_a_change_while_the_store_is_failing_is_refused_unsent(
    backend: Backend, fleet: Fleet
) -> None:
    backend.stop()
    reader = fleet.readers[0]
    assert not reader.refresh()  # the table learns the store is down
    with pytest.raises(StoreDown, match="not sent"):  # at once: no store call at all
        reader.set_state("payments", MONOLITH, who="ci", change_id="during-outage")
    backend.repair()
    fleet.converge(lambda t: t.last_error is None)
    reader.set_state("payments", SHADOW, who="ci")
    assert fleet.writer.store.change("during-outage") is None


@pytest.mark.parametrize(  # the file store's readers take no lock: no read waits on it
    "backend",
    [
        pytest.param("redis", marks=pytest.mark.real),
        pytest.param("postgres", marks=pytest.mark.real),
    ],
    indirect=True,
)
def test_a_change_during_a_partition_is_refused_unsent_while_a_refresh_waits(
    backend: Backend, fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(table_module, "BREAKER_SECONDS", 0.0)  # only the refresh in flight
    reader = fleet.readers[0]
    backend.partition()
    assert not reader.refresh()  # failed at the deadline
    stuck = threading.Thread(target=reader.refresh)  # the next one waits for the store
    stuck.start()
    wait_until(reader._lock.locked, timeout=5, message="the second refresh never started")
    with pytest.raises(StoreDown):  # not queued behind it for another deadline
        reader.set_state("payments", MONOLITH, who="ci", change_id="in-partition")
    stuck.join()
    backend.repair()
    fleet.converge(lambda t: t.last_error is None)
    assert fleet.writer.store.change("in-partition") is None


def test_restore_shows_its_diff_refuses_an_older_table_and_says_when_it_is_a_no_op(
    backend: Backend, fleet: Fleet
) -> None:
    plan, written = fleet.writer.restore(who="operator")  # a healthy store, the same table
    assert plan.noop and written is None and "is healthy" in plan.store_was
    stale = fleet.readers[0]  # still at version 2
    fleet.writer.set_state("payments", SHADOW, who="ci")  # the store moves on to 3
    with pytest.raises(RestoreRefused, match=r"payments: shadow -> extracted.*--force"):
        stale.restore(who="operator")
    assert fleet.writer.store.load().get("payments") == SHADOW  # nothing written
    plan, written = stale.restore(who="operator", force=True)  # the operator insists
    assert plan.overrides and written is not None and written.version == 4
    fleet.converge(lambda t: t.snapshot.version == 4)
    fleet.assert_serving_last_good()
    backend.wipe()
    plan = stale.plan_restore()
    assert "is empty" in plan.store_was
    assert [(d.route, d.store, d.restored) for d in plan.diff] == [
        ("inventory", None, "canary 30"),
        ("payments", None, "extracted"),
    ]


SNAPSHOTS = {
    "a huge version": '{"store": "URL", "version": 1e400, "epoch": "", "states": {}}',
    "a list": "[]",
    "null": "null",
    "deep nesting": "[" * DEEP + "]" * DEEP,
    "a negative version": '{"store": "URL", "version": -5, "epoch": "e", "states": {}}',
    "a bad state": (
        '{"store": "URL", "version": 2, "epoch": "e", "states": {"payments": {"mode": 1}}}'
    ),
    "truncated": "TRUNCATED",
}


@pytest.mark.parametrize("backend", ["file"], indirect=True)
@pytest.mark.parametrize("content", SNAPSHOTS, ids=list(SNAPSHOTS))
def test_a_bad_local_snapshot_is_reported_and_ignored(
    backend: Backend, fleet: Fleet, tmp_path: Path, content: str
) -> None:
    path = tmp_path / "snapshot.json"
    good = table_on(backend.url, snapshot_path=path)
    good.refresh()
    text = path.read_text()
    path.write_text(
        text[: len(text) // 2]
        if content == "truncated"
        else SNAPSHOTS[content].replace("URL", backend.url)
    )
    started = table_on(backend.url, snapshot_path=path)  # never raises
    assert not started.loaded and str(path) in str(started.snapshot_problem)
    backend.stop()  # the store down too: no table, said why, nothing invented
    assert not started.refresh() and not started.loaded
    backend.repair()
    assert started.refresh() and started.source == "store"  # then from the store
    assert started.snapshot.get("payments") == EXTRACTED


@pytest.mark.parametrize("backend", ["file"], indirect=True)
def test_an_empty_store_is_seeded_only_on_a_first_start(
    backend: Backend, fleet: Fleet, tmp_path: Path
) -> None:
    """A host that kept a table before (a snapshot file, even unreadable) never takes an
    empty store for a new one: it neither routes from defaults nor seeds it."""
    path = tmp_path / "snapshot.json"
    table_on(backend.url, snapshot_path=path).refresh()
    path.write_text("{damaged")
    backend.wipe()
    started = table_on(backend.url, snapshot_path=path)
    started.refresh()
    assert not started.loaded and "kept one before" in str(started.last_error)
    with pytest.raises(StoreRefused, match="carve routes restore"):
        started.set_state("payments", MONOLITH, who="ci")
    assert open_store(backend.url).load().empty  # nothing seeded
    _, seeded = started.restore(who="operator", seed={"payments": MONOLITH})  # on purpose
    assert seeded is not None and started.refresh() is False and started.loaded

    fresh = RouteTable(open_store(f"file:{tmp_path / 'new' / 'routes.json'}"))
    fresh.refresh()  # a first start: no table kept anywhere, an empty store
    assert fresh.loaded and fresh.snapshot.empty
    fresh.set_state("payments", SHADOW, who="ci")
    assert fresh.snapshot.get("payments") == SHADOW

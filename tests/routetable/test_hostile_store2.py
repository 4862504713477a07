"""The route table against the SECOND outside attack on issue 15: bytes that are not
UTF-8, a store rolled back and written over, a corrupt local snapshot, states the API
refuses, history keys of the wrong type, a change id reused. Each class of hole on the
stores it applies to (PostgreSQL cannot hold bytes that are not UTF-8 in a text)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from routetable import BadRecord, ChangeIdReused, StoreError, StoreRefused
from routetable import table as table_module
from tests.routetable.conftest import (
    CANARY_30,
    EXTRACTED,
    MONOLITH,
    SHADOW,
    Backend,
    Fleet,
    table_on,
)

FILE_AND_REDIS = ["file", pytest.param("redis", marks=pytest.mark.real)]
REDIS = [pytest.param("redis", marks=pytest.mark.real)]
NOT_UTF8 = b"\xff\xfe"


@pytest.mark.parametrize("backend", FILE_AND_REDIS, indirect=True)
@pytest.mark.parametrize("where", ["entry", "name"])
def test_bytes_that_are_not_utf8_are_one_bad_item(
    backend: Backend, fleet: Fleet, where: str
) -> None:
    if where == "entry":
        backend.bytes_entry("inventory", NOT_UTF8)
    else:
        backend.bytes_entry(b"rogue" + NOT_UTF8, b"x")
    fleet.writer.set_state("payments", SHADOW, who="ci")  # not frozen: another change lands
    fleet.converge(lambda t: t.snapshot.get("payments") == SHADOW and t.last_error is None)
    for table in fleet.tables:
        assert table.snapshot.get("inventory") == CANARY_30  # its last good state kept
        (problem,) = table.snapshot.problems.values()
        assert "UTF-8" in problem or "utf-8" in problem
    if where == "name":
        assert "rogue\\xff\\xfe" in fleet.writer.snapshot.problems
    plan = fleet.writer.plan_restore()  # a restore can be planned and made
    assert "unreadable" not in plan.store_was
    fleet.writer.restore(who="operator", force=True)
    fleet.converge(lambda t: not t.snapshot.problems and t.snapshot.get("inventory") == CANARY_30)


@pytest.mark.parametrize("backend", REDIS, indirect=True)
@pytest.mark.parametrize("field", ["epoch", "names"])
def test_a_meta_field_that_is_not_utf8_is_a_bad_record_naming_it(
    backend: Backend, fleet: Fleet, field: str
) -> None:
    meta = f"{backend.prefix}meta"  # type: ignore[attr-defined]
    backend.client.hset(meta, field, NOT_UTF8)  # type: ignore[attr-defined]
    backend.client.incr(f"{backend.prefix}version")  # type: ignore[attr-defined]
    with pytest.raises(BadRecord, match=rf"{meta} \(field {field}\)") as refused:
        fleet.writer.set_state("payments", SHADOW, who="ci")  # refused: nothing written
    assert not refused.value.applied
    fleet.converge(lambda t: t.last_error is not None and meta in t.last_error)
    fleet.assert_serving_last_good()
    # the store answered: not "failing"; a restore plan names the key, and the restore repairs
    plan = fleet.writer.plan_restore()
    assert meta in plan.store_was
    fleet.writer.restore(who="operator")
    fleet.converge(lambda t: t.last_error is None)
    fleet.writer.set_state("payments", SHADOW, who="ci")


@pytest.mark.parametrize("backend", REDIS, indirect=True)
def test_a_history_item_or_change_record_that_is_not_utf8_is_one_bad_item(
    backend: Backend, fleet: Fleet
) -> None:
    backend.client.rpush(f"{backend.prefix}history", NOT_UTF8)  # type: ignore[attr-defined]
    backend.client.hset(f"{backend.prefix}changes", "deadbeef", b"\xff")  # type: ignore[attr-defined]
    report = fleet.writer.store.history_report()
    assert len(report.changes) == 2 and len(report.problems) == 1
    with pytest.raises(BadRecord, match="deadbeef") as bad:
        fleet.writer.store.change("deadbeef")
    assert bad.value.applied
    with pytest.raises(BadRecord, match="deadbeef"):
        fleet.writer.set_state("payments", SHADOW, who="ci", change_id="deadbeef")
    assert isinstance(bad.value, StoreError)
    assert fleet.writer.snapshot.get("payments") == EXTRACTED


CANARY_ZERO = [
    '{"mode": "canary"}',
    '{"mode": "canary", "percent": 0}',
    '{"mode": "canary", "percent": -0}',
]


@pytest.mark.parametrize("text", CANARY_ZERO)
def test_a_stored_canary_0_is_refused_like_the_api_refuses_it(
    backend: Backend, fleet: Fleet, text: str
) -> None:
    backend.raw_entry("inventory", text)
    fleet.writer.set_state("payments", SHADOW, who="ci")
    fleet.converge(lambda t: t.snapshot.get("payments") == SHADOW and t.last_error is None)
    for table in fleet.tables:
        assert table.snapshot.get("inventory") == CANARY_30  # never canary 0
        assert "canary 0" in table.snapshot.problems["inventory"]


def test_a_version_reissued_with_other_content_is_refused_loudly(
    backend: Backend, fleet: Fleet, caplog: pytest.LogCaptureFixture
) -> None:
    """A store rolled back to a backup (version 2 again), then a process that never held
    version 3 writes: version 3 again, with other content. Those that held the first
    version 3 never adopt it silently, and never write on top of it."""
    fleet.writer.set_state("payments", SHADOW, who="ci")  # version 3
    fleet.converge(lambda t: t.snapshot.version == 3)
    backend.raw_entry("payments", '{"mode": "extracted", "percent": 0}', bump=False)
    backend.set_version(2)  # the backup taken at version 2
    fleet.converge(lambda t: t.last_error is not None and "went back" in t.last_error)
    newcomer = table_on(backend.url)  # never held version 3
    newcomer.refresh()
    newcomer.set_state("inventory", MONOLITH, who="newcomer")  # version 3, other content
    newcomer.store.close()
    fleet.converge(lambda t: t.last_error is not None and "other content" in t.last_error)
    for table in fleet.tables:
        assert table.snapshot.get("payments") == SHADOW  # the table it held
        assert table.snapshot.get("inventory") == CANARY_30
    assert any(
        "other content" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR
    )
    with pytest.raises(StoreRefused, match="other content"):  # nothing written on top
        fleet.readers[0].set_state("orders", SHADOW, who="ci")
    fleet.readers[0].restore(who="operator", force=True)  # the operator's word
    fleet.converge(lambda t: t.last_error is None and t.snapshot.get("payments") == SHADOW)


@pytest.mark.parametrize("checksum", ["recomputed", "stale"])
def test_a_corrupt_local_snapshot_never_overrides_a_readable_store(
    backend: Backend, fleet: Fleet, tmp_path: Path, checksum: str
) -> None:
    """A snapshot whose version was raised by 300 and a route changed: with its checksum
    stale it is ignored and reported at once; with a matching one (parseable, plausible)
    it is only a fallback: the readable store's table wins, the snapshot is the problem."""
    path = tmp_path / "snapshot.json"
    first = table_on(backend.url, snapshot_path=str(path))  # a str path is taken
    first.refresh()
    first.store.close()
    document = json.loads(path.read_text())
    document["version"] += 300
    document["states"]["payments"] = {"mode": "monolith", "percent": 0}
    if checksum == "recomputed":
        document["checksum"] = table_module._checksum(document)
    path.write_text(json.dumps(document))
    started = table_on(backend.url, snapshot_path=path)
    if checksum == "stale":
        assert not started.loaded and "checksum" in str(started.snapshot_problem)
    else:
        assert started.source == "disk" and started.snapshot.get("payments") == MONOLITH
    started.refresh()
    assert started.source == "store" and started.last_error is None  # the store is not blamed
    fleet.assert_serving_last_good()
    assert started.snapshot.get("payments") == EXTRACTED
    assert started.snapshot.version == 2
    if checksum == "recomputed":
        assert "never saw" in str(started.snapshot_problem)
    assert started.plan_restore().noop  # nothing to spread
    assert json.loads(path.read_text())["version"] == 2  # the snapshot is replaced
    started.store.close()


@pytest.mark.parametrize("backend", REDIS, indirect=True)
@pytest.mark.parametrize("key", ["history", "changes", "meta", "states"])
def test_a_redis_key_of_the_wrong_type_refuses_the_write_whole_and_names_it(
    backend: Backend, fleet: Fleet, key: str
) -> None:
    """`HSET history a b`: a WRONGTYPE inside MULTI/EXEC rolls nothing back, so the write
    would commit without its history item; it is refused before, naming the key."""
    name = f"{backend.prefix}{key}"  # type: ignore[attr-defined]
    client = backend.client  # type: ignore[attr-defined]
    client.delete(name)
    if key == "history":
        client.hset(name, "a", "b")
    else:
        client.rpush(name, "a")
    with pytest.raises(BadRecord, match=rf"{name} is a .*edited by hand") as refused:
        fleet.writer.set_state("payments", SHADOW, who="ci")
    assert not refused.value.applied
    assert client.get(f"{backend.prefix}version") == "2"  # type: ignore[attr-defined]
    fleet.writer.refresh()
    if key in ("meta", "states"):  # the table itself: readers name the key, keep the table
        fleet.converge(lambda t: t.last_error is not None and name in t.last_error)
    fleet.assert_serving_last_good()
    if key == "history":
        with pytest.raises(BadRecord, match=name):
            fleet.writer.store.history_report()


@pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.real)], indirect=True
)
def test_a_huge_postgresql_row_is_a_bad_entry_never_read_whole(
    backend: Backend, fleet: Fleet
) -> None:
    huge = '{"mode": "canary", "percent": 30, "pad": "' + "x" * 200_000 + '"}'
    backend.raw_entry("inventory", huge)
    fleet.writer.set_state("payments", SHADOW, who="ci")  # not frozen
    fleet.converge(lambda t: t.snapshot.get("payments") == SHADOW and t.last_error is None)
    for table in fleet.tables:
        assert table.snapshot.get("inventory") == CANARY_30
        problem = table.snapshot.problems["inventory"]
        assert "carve_route_state" in problem and "larger than" in problem
    change = fleet.writer.set_state("inventory", SHADOW, who="ci")
    assert change.before is None  # its previous entry was unreadable, not "monolith"


def test_a_change_id_reused_for_another_change_is_refused_naming_both(
    backend: Backend, fleet: Fleet
) -> None:
    first = fleet.writer.set_state("payments", SHADOW, who="ci", change_id="cid-1")
    again = fleet.readers[0].set_state("payments", SHADOW, who="ci", change_id="cid-1")
    assert again == first  # a retry of the same change: the recorded one, applied once
    for route, state in (("inventory", MONOLITH), ("payments", EXTRACTED)):
        with pytest.raises(ChangeIdReused, match=r"cid-1 is already recorded.*payments -> shadow"):
            fleet.writer.set_state(route, state, who="ci", change_id="cid-1")
    assert fleet.writer.store.load().version == 3  # nothing applied
    fleet.writer.set_state("inventory", MONOLITH, who="ci")  # the breaker was not tripped

"""A Hypothesis state machine: three writers change routes on one store, with faults
between the steps (the store stopped and repaired, wiped and restored, a change retried
with its id). After every step the store's history, version and states agree, no change
id is recorded twice, and no writer's version ever decreases."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from routetable import (
    Mode,
    RouteState,
    RouteTable,
    StoreDown,
    StoreError,
    StoreRefused,
    open_store,
)
from tests.routetable.conftest import Backend, FileBackend, PostgresBackend, RedisBackend

ROUTES = ("payments", "inventory", "orders")
STATES = st.sampled_from(ROUTES).flatmap(
    lambda route: st.tuples(
        st.just(route),
        st.one_of(
            st.sampled_from([RouteState(m) for m in Mode if m is not Mode.CANARY]),
            st.integers(1, 100).map(lambda p: RouteState(Mode.CANARY, p)),  # no canary 0
        ),
    )
)
WRITERS = st.integers(0, 2)


class TableMachine(RuleBasedStateMachine):
    kind = "file"

    @initialize()
    def open(self) -> None:
        self.directory: Path | None = None
        if self.kind == "file":
            self.directory = Path(tempfile.mkdtemp(prefix="carve-machine-"))
            self.backend: Backend = FileBackend(self.directory)
        elif self.kind == "redis":
            self.backend = RedisBackend()
        else:
            self.backend = PostgresBackend()
        self.tables = [RouteTable(open_store(self.backend.url, timeout=0.5)) for _ in range(3)]
        self.highest = [0, 0, 0]  # the highest version each writer held
        self.stopped = False
        self.wiped = False
        self.down_seen: set[int] = set()  # writers that may have seen the store fail since
        self.ids: list[str] = []
        self.sent: dict[str, tuple[str, RouteState]] = {}  # change id -> its change
        self.count = 0

    def teardown(self) -> None:
        if not hasattr(self, "backend"):
            return
        self.backend.repair()
        for table in self.tables:
            table.store.close()
        self.backend.close()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)

    @rule(writer=WRITERS, change=STATES, retry=st.booleans())
    def write(self, writer: int, change: tuple[str, RouteState], retry: bool) -> None:
        route, state = change
        table = self.tables[writer]
        if retry and self.ids:  # a retry sends the same change again, under its id
            change_id = self.ids[-1]
            route, state = self.sent[change_id]
        else:
            self.count += 1
            change_id = f"change-{self.count}"
            self.sent[change_id] = (route, state)
        try:
            table.set_state(route, state, who=f"w{writer}", change_id=change_id)
        except StoreDown:  # refused unsent: the writer saw the store fail, not since answer
            assert self.stopped or writer in self.down_seen, "refused unsent on a healthy store"
            return
        except StoreRefused:
            assert self.wiped, "a write was refused by a store that was neither wiped nor replaced"
            return
        except StoreError:
            assert self.stopped or self.wiped, "a write failed on a healthy store"
            return
        assert not self.stopped, "a write succeeded on a stopped store"
        if change_id not in self.ids:
            self.ids.append(change_id)

    @rule(writer=WRITERS)
    def refresh(self, writer: int) -> None:
        self.tables[writer].refresh()
        if not self.stopped:
            self.down_seen.discard(writer)

    @precondition(lambda self: not self.stopped)
    @rule()
    def stop(self) -> None:
        self.backend.stop()
        self.stopped = True
        self.down_seen = {0, 1, 2}

    @precondition(lambda self: self.stopped)
    @rule()
    def repair(self) -> None:
        self.backend.repair()
        self.stopped = False

    @precondition(lambda self: not self.stopped and not self.wiped)
    @rule()
    def wipe(self) -> None:
        for table in self.tables:
            table.refresh()  # the operator restores from an up-to-date proxy
        self.backend.wipe()
        self.wiped = any(not t.snapshot.empty for t in self.tables)

    @precondition(lambda self: not self.stopped and self.wiped)
    @rule()
    def restore(self) -> None:
        latest = max(self.tables, key=lambda t: t.snapshot.version)
        if latest.snapshot.empty:
            self.wiped = False  # nothing was held: the store starts afresh
            return
        _, restored = latest.restore(who="operator", force=True)
        assert restored is not None
        assert restored.version > max(self.highest)
        self.wiped = False

    @invariant()
    def versions_never_decrease(self) -> None:
        for n, table in enumerate(self.tables):
            assert table.snapshot.version >= self.highest[n], "a writer's version went back"
            self.highest[n] = table.snapshot.version

    @invariant()
    def history_version_and_states_agree(self) -> None:
        if self.stopped or self.wiped:
            return
        store = self.tables[0].store
        snapshot = store.load()
        history = store.history(limit=0)
        recorded = [c.id for c in history]
        assert len(set(recorded)) == len(recorded), "a change was applied twice"
        versions = [c.version for c in history]
        assert versions == sorted(versions), "the history is out of order"
        assert (versions[-1] if versions else 0) == snapshot.version
        replayed: dict[str, RouteState] = {}
        generation = None
        for c in history:
            if c.id.startswith("restore-") and c.id.split("-")[1] != generation:
                generation = c.id.split("-")[1]
                replayed = {}  # a restore replaces the whole table
            replayed[c.route] = c.after
        assert replayed == dict(snapshot.states)
        assert not snapshot.problems


def run(kind: str) -> None:
    machine = type(f"TableMachine_{kind}", (TableMachine,), {"kind": kind})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=15,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


def test_concurrent_writers_with_faults_file() -> None:
    run("file")


@pytest.mark.real
def test_concurrent_writers_with_faults_redis() -> None:
    run("redis")


@pytest.mark.real
def test_concurrent_writers_with_faults_postgres() -> None:
    run("postgres")

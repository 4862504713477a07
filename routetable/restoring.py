"""What a restore would do, before it does it: the operator sees the routes whose side
changes, is told when the store is healthy (a restore would change nothing, or undo newer
changes) and must insist (`force`) to write a table older than the store's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from routetable.states import Snapshot
from routetable.store import StoreRefused

UNREADABLE = "(unreadable)"


class RestoreRefused(StoreRefused):
    """The store holds newer changes than the table a restore would write: nothing was
    written; the message shows what would be undone and how to insist."""


@dataclass(frozen=True, slots=True)
class RouteDiff:
    route: str
    store: str | None  # the state the store holds now (None: absent, i.e. the configured one)
    restored: str | None  # the state the restore writes (None: absent)

    def to_json(self) -> dict[str, Any]:
        return {"route": self.route, "store": self.store, "restored": self.restored}


@dataclass(frozen=True)
class RestorePlan:
    table: Snapshot  # what a restore writes (as a new generation above both versions)
    store_was: str  # what the store holds now, in words
    diff: list[RouteDiff]
    noop: bool  # the store is healthy and holds this very table: nothing to write
    overrides: bool  # the store holds newer changes: writing undoes them

    def to_json(self) -> dict[str, Any]:
        return {
            "store_was": self.store_was,
            "diff": [d.to_json() for d in self.diff],
            "noop": self.noop,
            "overrides": self.overrides,
            "table": self.table.to_json(),
        }

    def refusal(self) -> str:
        changes = "; ".join(f"{d.route}: {d.store} -> {d.restored}" for d in self.diff[:10])
        return (
            f"the route store {self.store_was}: restoring the table held (version "
            f"{self.table.version}) would undo changes it does not hold "
            f"({changes or 'none of the states'})"
            "; nothing was written. Pass --force (the API's force: true) to write it anyway"
        )


def plan_restore(table: Snapshot, found: Snapshot | None, error: str | None) -> RestorePlan:
    """The plan for writing `table` to a store that holds `found` (None: it could not be
    read, `error` says why)."""
    if found is None:
        store_states: dict[str, str] = {}
        store_was = f"is unreadable ({error})"
    else:
        store_states = {r: str(s) for r, s in found.states.items()}
        store_states |= {r: UNREADABLE for r in found.problems}
        if found.empty:
            store_was = "is empty (wiped, or never written)"
        else:
            store_was = f"holds generation {found.epoch or 'unnamed'} at version {found.version}"
    restored = {r: str(s) for r, s in table.states.items()}
    diff = [
        RouteDiff(route, store_states.get(route), restored.get(route))
        for route in sorted(store_states.keys() | restored.keys())
        if store_states.get(route) != restored.get(route)
    ]
    same_table = (
        found is not None
        and not found.empty
        and found.epoch == table.epoch
        and found.version == table.version
        and not diff
    )
    lost = (
        found is not None
        and found.epoch == table.epoch
        and bool(set(table.states) - set(found.states) - set(found.problems))
    )
    # a non-empty store of another generation holds committed changes this table never saw
    other_generation = found is not None and not found.empty and found.epoch != table.epoch
    overrides = (
        found is not None
        and not found.empty
        and (found.version > table.version or other_generation)
        and not lost
    )
    if lost:
        store_was = f"{store_was}, but lost routes this table holds"
    if same_table:
        store_was = f"is healthy and {store_was.removeprefix('holds ')}, the very table held"
    elif overrides and other_generation:
        store_was = (
            f"is another generation: it {store_was}, whose committed changes a restore "
            "would discard"
        )
    elif overrides:
        store_was = f"is newer: it {store_was}"
    return RestorePlan(table, store_was, diff, same_table, overrides)

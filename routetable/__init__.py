"""The route table: which side (monolith or extracted service) serves each route.

One store is read by every proxy process and by the monolith's adapters. Readers keep
an in-memory snapshot and refresh it with a cheap version check, so a change made
anywhere reaches every reader within a second. The API is synchronous so Django code
can use it; asynchronous callers run writes and refreshes in an executor.

    table = RouteTable(open_store())      # CARVE_ROUTES_URL, else a file under var/
    table.state_of("payments")            # RouteState(mode=Mode.MONOLITH, percent=0)
    table.set_state("payments", RouteState.parse("canary 10"), who="alice")
"""

from routetable.restoring import RestorePlan, RestoreRefused
from routetable.states import Change, Mode, RouteState, Snapshot
from routetable.store import (
    BadRecord,
    ChangeIdReused,
    RouteStore,
    StoreDown,
    StoreError,
    StoreRefused,
    open_store,
)
from routetable.table import RouteTable

__all__ = [
    "ChangeIdReused",
    "BadRecord",
    "Change",
    "Mode",
    "RestorePlan",
    "RestoreRefused",
    "RouteState",
    "RouteStore",
    "RouteTable",
    "Snapshot",
    "StoreDown",
    "StoreError",
    "StoreRefused",
    "open_store",
]

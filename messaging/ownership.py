"""Which side writes a context, and moving that without losing a write (the handover).

The route table says who should write: the monolith while a route is `monolith` or
`shadow`, the extracted service once it is `canary` or `extracted`. Each service keeps a
ContextOwnership row per context it can write, moved by the watcher:

* Every write of a context starts with `ensure_owner(context)` in its transaction: a
  shared lock on the row, and NotOwner (421) unless this service writes the context.
* The old owner moves the row under an exclusive lock, which waits for in-flight writes
  and fences later ones, and publishes HandedOver with how many events of the context it
  ever published, in the same transaction.
* The new owner writes only once it has that HandedOver and has applied that many
  events of each type it takes: no write of the old owner can be overtaken.

Route states are read from the route table store (CARVE_ROUTES_URL or var/routes.json).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count
from rest_framework import status

from contracts.envelope import Envelope
from contracts.events.ownership import HandedOverV1
from contracts.registry import EVENT_CLASSES
from messaging.handlers import handler_for, handles
from messaging.models import ContextOwnership, HandoverMarker, InboxMessage, OutboxMessage
from messaging.outbox import publish
from routetable import Mode, RouteState, RouteTable, Snapshot, open_store
from servicekit.errors import DomainError

log = logging.getLogger("carve.ownership")
F = TypeVar("F", bound=Callable[..., Any])
MONOLITH = "monolith"
State = ContextOwnership.State
# The longest a write holds a service thread waiting for a handover towards its side; then
# it is answered 421 naming this side, and the proxy holds it (CARVE_HANDOVER_WAIT_SECONDS).
HOLD_SECONDS = 1.0
TAKING_OVER = "taking_over"  # the state a 421 names while this side's handover is under way


class NotOwner(DomainError):
    """This service does not write the context (now); nothing was changed."""

    status_code = status.HTTP_421_MISDIRECTED_REQUEST
    error_type = "not_owner"

    def __init__(self, context: str, owner: str, state: str) -> None:
        if state == TAKING_OVER:
            detail = f"{context} is being handed over to {owner}; send the request again shortly"
        else:
            detail = f"{context} is written by {owner} now ({state} here); send the request there"
        super().__init__(
            detail,
            code="not_owner",
            context=context,
            owner=owner,
        )
        self.context = context
        self.owner = owner
        self.state = state


def me() -> str:
    return str(settings.CARVE_SERVICE_NAME)


def ownable_contexts() -> list[str]:
    return list(getattr(settings, "CARVE_OWNABLE_CONTEXTS", []))


def desired_owner(context: str, state: RouteState) -> str:
    if state.mode in (Mode.MONOLITH, Mode.SHADOW):
        return MONOLITH
    return str(settings.CARVE_CONTEXT_SERVICES[context])


def _default(context: str) -> tuple[str, str]:
    """Before the watcher has run: the monolith writes everything, as it always did."""
    return MONOLITH, State.OWNER if me() == MONOLITH else State.REPLICA


def ensure_owner(context: str) -> None:
    """In a write's transaction: hold the row (shared) and refuse unless this side writes."""
    if not connection.in_atomic_block:
        raise RuntimeError("ensure_owner() belongs inside the write's transaction.atomic()")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT owner, state FROM messaging_contextownership WHERE context = %s FOR SHARE",
                [context],
            )
            row = cursor.fetchone()
    else:  # SQLite: one writer at a time, so the watcher's move cannot interleave
        row = ContextOwnership.objects.filter(context=context).values_list("owner", "state").first()
    owner, state = row if row is not None else _default(context)
    if owner != me() or state != State.OWNER:
        raise NotOwner(context, owner, state)


def is_owner(context: str) -> bool:
    row = ContextOwnership.objects.filter(context=context).values_list("owner", "state").first()
    owner, state = row if row is not None else _default(context)
    return bool(owner == me() and state == State.OWNER)


def wait_until_settled(context: str, *, timeout: float | None = None) -> bool:
    """Outside a transaction: while a handover towards this side is under way (the route
    table already names it, or it is catching up), wait for it, bounded by `timeout` or
    HOLD_SECONDS. True once settled; False when it is still under way at the bound."""
    limit = min(settings.CARVE_HANDOVER_WAIT_SECONDS, HOLD_SECONDS) if timeout is None else timeout
    deadline = time.monotonic() + limit
    pause = 0.02  # doubled up to 0.25 s: a catch-up of seconds is not slowed by the askers
    while True:
        row = ContextOwnership.objects.filter(context=context).first()
        owner = row.owner if row is not None else _default(context)[0]
        if not (
            (row is not None and row.state == State.CATCHING_UP)
            # the watcher has not moved the row yet
            or (
                owner != me()
                and desired_owner(context, route_table().current().get(context)) == me()
            )
        ):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, 0.25)


_table: RouteTable | None = None


def route_table() -> RouteTable:
    """This process's reader of the route table (refreshed at most every 0.25 s)."""
    global _table
    if _table is None:
        _table = RouteTable(open_store())
    return _table


def waits_for_handover(context: str) -> Callable[[F], F]:
    """For a write endpoint: while this side is taking `context` over, hold the request a
    little (HOLD_SECONDS); still under way, answer 421 not_owner naming this side, which
    changed nothing: the proxy holds the request (no thread) and asks again until its
    deadline. A request waiting here holds one of the service's few threads: holding it
    for the whole catch-up starved the service and the proxy's queue behind it (504s)."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not wait_until_settled(context):
                raise NotOwner(context, me(), TAKING_OVER)
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorate


# ------------------------------------------------------------------ the handover
def event_types_of(context: str) -> list[str]:
    """The event (not command) types a context's owner publishes."""
    return [c.TYPE for c in EVENT_CLASSES if c.KIND == "event" and c.TYPE.startswith(f"{context}.")]


def published_counts(context: str) -> dict[str, int]:
    rows = (
        OutboxMessage.objects.filter(event_type__in=event_types_of(context))
        .values("event_type")
        .annotate(n=Count("id"))
    )
    return {row["event_type"]: row["n"] for row in rows}


def _release(context: str, to_service: str, version: int) -> None:
    """Publish that this side stopped writing `context` (inside the move's transaction)."""
    marker = HandedOverV1(
        context=context,
        from_service=me(),
        to_service=to_service,
        route_version=version,
        published=published_counts(context),
    )
    publish(marker, sequence=max(version, 1))
    log.info(
        "%s: stopped writing %s at route version %d (%s)", me(), context, version, marker.published
    )


@handles(HandedOverV1)
def handed_over(event: HandedOverV1, envelope: Envelope) -> None:
    if event.from_service == me():
        return
    HandoverMarker.objects.get_or_create(
        context=event.context,
        from_service=event.from_service,
        route_version=event.route_version,
        defaults={"to_service": event.to_service, "published": event.published},
    )


def caught_up(row: ContextOwnership) -> tuple[bool, str]:
    """Whether this side has applied everything the old owner published; and if not, why."""
    marker = (
        HandoverMarker.objects.filter(
            context=row.context, from_service=row.handover_from, route_version__gt=row.since_version
        )
        .order_by("-route_version")
        .first()
    )
    if marker is None:
        return False, f"waiting for {row.handover_from} to stop writing {row.context}"
    for event_type, count in marker.published.items():
        if handler_for(event_type) is None:
            continue
        have = InboxMessage.objects.filter(
            consumer=me(), origin=row.handover_from, event_type=event_type
        ).count()
        if have < count:
            return False, f"applied {have} of {count} {event_type} from {row.handover_from}"
    return True, "caught up"


class OwnershipWatcher:
    """Keeps this service's ownership rows in step with the route table."""

    def __init__(self, table: RouteTable | None = None) -> None:
        self.table = table or route_table()

    def step(self) -> None:
        if not ownable_contexts():
            return
        snapshot = self.table.current()
        for context in ownable_contexts():
            self.settle(context, snapshot)

    def settle(self, context: str, snapshot: Snapshot) -> None:
        want = desired_owner(context, snapshot.get(context))
        row = ContextOwnership.objects.filter(context=context).first()
        if row is None:
            self._first_sight(context, want, snapshot.version)
        elif row.owner != want:
            self._move(context, want, snapshot.version)
        elif row.state == State.CATCHING_UP:
            self._finish_if_caught_up(context)
        elif row.route_version != snapshot.version:
            ContextOwnership.objects.filter(context=context, owner=want).update(
                route_version=snapshot.version
            )

    def _first_sight(self, context: str, want: str, version: int) -> None:
        with transaction.atomic():
            if want == me():
                state = State.OWNER if me() == MONOLITH else State.CATCHING_UP
                handover_from = "" if me() == MONOLITH else MONOLITH
            else:
                state, handover_from = State.REPLICA, ""
            _, created = ContextOwnership.objects.get_or_create(
                context=context,
                defaults={
                    "owner": want,
                    "state": state,
                    "handover_from": handover_from,
                    "route_version": version,
                },
            )
            if created and state == State.REPLICA:
                _release(context, want, version)
        log.info("%s: %s is written by %s (%s)", me(), context, want, state)

    def _move(self, context: str, want: str, version: int) -> None:
        with transaction.atomic():
            # Exclusive: waits until every write holding the row (shared) has committed.
            row = ContextOwnership.objects.select_for_update().get(context=context)
            if row.owner == want:
                return
            if want == me():
                row.handover_from, row.since_version = row.owner, row.route_version
                row.owner, row.state = me(), State.CATCHING_UP
            else:
                was_writing = row.owner == me()
                row.owner, row.state, row.handover_from = want, State.REPLICA, ""
                if was_writing:
                    _release(context, want, version)
            row.route_version = version
            row.save()
        log.info("%s: %s moves to %s (%s)", me(), context, want, row.state)

    def _finish_if_caught_up(self, context: str) -> None:
        row = ContextOwnership.objects.get(context=context)
        done, why = caught_up(row)
        if not done:
            return
        with transaction.atomic():
            updated = ContextOwnership.objects.filter(
                context=context, owner=me(), state=State.CATCHING_UP
            ).update(state=State.OWNER)
        if updated:
            log.info("%s: now writing %s (%s)", me(), context, why)


_watcher: OwnershipWatcher | None = None


def watch() -> None:
    """One step of this process's watcher (a periodic job of the relay process)."""
    global _watcher
    if _watcher is None:
        _watcher = OwnershipWatcher()
    _watcher.step()

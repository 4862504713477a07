"""Who writes a context, and the handover between sides (in-process, as the monolith)."""

import os
import sys
import threading
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction

from contracts.envelope import Envelope
from contracts.events.inventory import StockChangedV1
from contracts.events.ownership import HandedOverV1
from messaging.consumer import consume_delivery
from messaging.models import ContextOwnership, OutboxMessage
from messaging.outbox import publish
from messaging.ownership import NotOwner, OwnershipWatcher, ensure_owner
from messaging.testing import wait_until
from messaging.tests.factories import stock_changed
from routetable import RouteState, RouteTable, open_store

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def routes(tmp_path):
    table = RouteTable(open_store(f"file:{tmp_path / 'routes.json'}"), max_age=0)

    def flip(context, state):
        table.set_state(context, RouteState.parse(state), who="test")

    flip.table = table  # type: ignore[attr-defined]
    return flip


def watch(routes):
    OwnershipWatcher(routes.table).step()


def row(context):
    return ContextOwnership.objects.get(context=context)


def can_write(context):
    try:
        with transaction.atomic():
            ensure_owner(context)
        return True
    except NotOwner:
        return False


def a_stock_write(sku="OWN"):
    with transaction.atomic():
        ensure_owner("inventory")
        publish(
            StockChangedV1(
                sku=sku,
                name="n",
                price=Decimal("1.00"),
                currency="EUR",
                on_hand=1,
                reserved=0,
                reason="adjusted",
            ),
            sequence=1,
        )


def test_the_monolith_writes_everything_until_told_otherwise(routes):
    assert can_write("inventory") and can_write("payments")  # before any watcher ran
    watch(routes)
    assert (row("inventory").owner, row("inventory").state) == ("monolith", "owner")


def test_going_extracted_fences_writes_and_announces_the_handover(routes):
    watch(routes)
    a_stock_write()
    routes("inventory", "extracted")
    watch(routes)
    assert (row("inventory").owner, row("inventory").state) == ("inventory", "replica")
    assert not can_write("inventory") and can_write("payments")
    marker = OutboxMessage.objects.get(event_type="ownership.HandedOver")
    data = Envelope.from_json(marker.envelope).data
    assert data["published"] == {"inventory.StockChanged": 1}
    assert (data["from_service"], data["to_service"]) == ("monolith", "inventory")


def test_shadow_keeps_writes_on_the_monolith_and_canary_moves_them(routes):
    watch(routes)
    routes("payments", "shadow")
    watch(routes)
    assert can_write("payments")
    routes("payments", "canary 10")
    watch(routes)
    assert not can_write("payments")


def test_taking_back_waits_for_the_old_owners_events(routes, events, settings):
    settings.CARVE_HANDOVER_WAIT_SECONDS = 0.1
    watch(routes)
    routes("inventory", "extracted")
    watch(routes)
    routes("inventory", "monolith")
    watch(routes)
    assert (row("inventory").state, row("inventory").handover_from) == ("catching_up", "inventory")
    assert not can_write("inventory")

    handover = HandedOverV1(
        context="inventory",
        from_service="inventory",
        to_service="monolith",
        route_version=routes.table.current().version,
        published={"inventory.StockChanged": 2},
    )
    marker = Envelope(
        type=handover.TYPE,
        version=1,
        aggregate=handover.AGGREGATE,
        aggregate_id=handover.aggregate_id(),
        sequence=3,
        origin="inventory",
        data=handover.model_dump(mode="json"),
    )
    consume_delivery(
        [marker.to_dict(), stock_changed("HO", 1, origin="inventory").to_dict()], app=events.app
    )
    watch(routes)
    assert row("inventory").state == "catching_up"  # one of the two events is still missing
    consume_delivery([stock_changed("HO", 2, origin="inventory").to_dict()], app=events.app)
    watch(routes)
    assert row("inventory").state == "owner" and can_write("inventory")


def waits_for(mover: threading.Thread, writer_backend: int | None) -> bool:
    """Whether the mover is blocked behind the write in flight: on PostgreSQL, its backend
    waits on a lock the writer's holds; on SQLite, it waits for the single write lock the
    writer took (servicekit.sqlite3)."""
    if writer_backend is not None:
        with connections["default"].cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                [writer_backend],
            )
            return bool(cursor.fetchone()[0])
    frame = sys._current_frames().get(mover.ident or 0)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "acquire" and code.co_filename.endswith(
            os.path.join("servicekit", "sqlite3", "base.py")
        ):
            return True
        frame = frame.f_back
    return False


def test_a_handover_waits_for_writes_in_flight(routes):
    watch(routes)
    holding = threading.Event()
    release = threading.Event()
    writer_backend: list[int] = []

    def slow_write():
        try:
            with transaction.atomic():
                ensure_owner("inventory")
                if connection.vendor == "postgresql":
                    with connection.cursor() as cursor:
                        cursor.execute("SELECT pg_backend_pid()")
                        writer_backend.append(cursor.fetchone()[0])
                holding.set()
                release.wait(60)
                publish(
                    StockChangedV1(
                        sku="FLIGHT",
                        name="n",
                        price=Decimal("1.00"),
                        currency="EUR",
                        on_hand=1,
                        reserved=0,
                        reason="adjusted",
                    ),
                    sequence=1,
                )
        finally:
            connections.close_all()

    writer = threading.Thread(target=slow_write)
    writer.start()
    assert holding.wait(30)
    routes("inventory", "extracted")

    def move():
        watch(routes)
        connections.close_all()

    mover = threading.Thread(target=move)
    mover.start()
    try:
        # The write commits only once the move is seen waiting for it (or has finished
        # without waiting, which is the failure this test is for).
        wait_until(
            lambda: not mover.is_alive() or waits_for(mover, next(iter(writer_backend), None)),
            timeout=30,
            message="the move neither finished nor waited for the write in flight",
        )
        assert mover.is_alive(), "the handover did not wait for the write in flight"
    finally:
        release.set()
        mover.join(30)
        writer.join(30)
    marker = OutboxMessage.objects.get(event_type="ownership.HandedOver")
    assert Envelope.from_json(marker.envelope).data["published"] == {"inventory.StockChanged": 1}


def test_writes_wait_only_while_a_handover_towards_this_side_is_under_way(routes, monkeypatch):
    import time

    from messaging import ownership

    monkeypatch.setattr(ownership, "_table", routes.table)
    started = time.monotonic()
    ownership.wait_until_settled("payments", timeout=5)
    assert time.monotonic() - started < 1  # the monolith writes: no wait at all

    watch(routes)
    routes("payments", "extracted")
    watch(routes)
    routes("payments", "monolith")  # named again, but the watcher has not moved the row yet
    started = time.monotonic()
    ownership.wait_until_settled("payments", timeout=0.3)
    assert time.monotonic() - started >= 0.3


def test_a_write_held_past_the_hold_is_refused_naming_this_side(routes, monkeypatch, settings):
    """A write waiting for a handover holds one of the service's few threads: past a short
    hold it is answered 421 naming this side (nothing changed), for the proxy to hold."""
    from messaging import ownership

    monkeypatch.setattr(ownership, "_table", routes.table)
    monkeypatch.setattr(ownership, "HOLD_SECONDS", 0.1)
    settings.CARVE_HANDOVER_WAIT_SECONDS = 2  # the proxy's to wait out, not a thread's
    ran = []
    write = ownership.waits_for_handover("payments")(lambda: ran.append(1))
    watch(routes)
    write()  # the monolith writes: straight through
    routes("payments", "extracted")
    watch(routes)
    routes("payments", "monolith")
    watch(routes)  # the monolith catches up: it waits for payments' HandedOver
    with pytest.raises(NotOwner) as refused:
        write()
    assert (refused.value.owner, refused.value.state) == ("monolith", ownership.TAKING_OVER)
    assert "again" in refused.value.detail
    assert ran == [1]

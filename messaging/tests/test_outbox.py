import json
from decimal import Decimal

import pytest
from django.db import transaction

from contracts.events.inventory import StockChangedV1
from messaging.models import OutboxMessage
from messaging.outbox import NotInTransaction, partition_of, publish

pytestmark = pytest.mark.django_db


def stock_event(sku: str = "SKU-1", on_hand: int = 5) -> StockChangedV1:
    return StockChangedV1(
        sku=sku,
        name="Mug",
        price=Decimal("4.50"),
        currency="EUR",
        on_hand=on_hand,
        reserved=0,
        reason="adjusted",
    )


def test_a_committed_change_writes_its_event_once():
    with transaction.atomic():
        envelope = publish(stock_event(), sequence=3)
    row = OutboxMessage.objects.get()
    assert (row.event_type, row.routing_key, row.aggregate_id, row.sequence) == (
        "inventory.StockChanged",
        "inventory.StockChanged",
        "SKU-1",
        3,
    )
    assert row.sent_at is None and not row.unroutable
    assert (row.publish_attempts, row.last_error) == (0, "")
    assert (row.event_id, row.created_at) == (envelope.id, envelope.occurred_at)
    assert row.partition == partition_of("inventory.product", "SKU-1")
    stored = json.loads(row.envelope)
    assert stored["id"] == str(envelope.id) and stored["origin"] == "monolith"
    assert stored["data"]["price"] == "4.50"


def test_a_rolled_back_change_publishes_nothing():
    with pytest.raises(RuntimeError), transaction.atomic():
        publish(stock_event(), sequence=1)
        raise RuntimeError("the state change failed")
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_publishing_outside_a_transaction_is_refused():
    with pytest.raises(NotInTransaction, match="transaction.atomic"):
        publish(stock_event(), sequence=1)


@pytest.mark.real
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("server_side_binding", [False, True])
def test_a_listening_relay_is_notified_by_a_commit_and_not_by_a_rollback(
    server_side_binding, monkeypatch
):
    """Whether values are bound by the client (Django's default) or by the server (carve's
    setting), the notification arrives when the transaction commits, and never for one
    that rolls back."""
    import psycopg
    from django.db import connection

    from messaging.outbox import NOTIFY_CHANNEL

    options = {**connection.settings_dict["OPTIONS"], "server_side_binding": server_side_binding}
    monkeypatch.setitem(connection.settings_dict, "OPTIONS", options)
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as listener:
        listener.execute(f"LISTEN {NOTIFY_CHANNEL}")

        with pytest.raises(RuntimeError), transaction.atomic():
            publish(stock_event("ROLLED-BACK"), sequence=1)
            raise RuntimeError("the use case failed")
        assert list(listener.notifies(timeout=0.5)) == []

        with transaction.atomic():
            publish(stock_event(), sequence=1)
        assert [n.channel for n in listener.notifies(timeout=5, stop_after=1)] == [NOTIFY_CHANNEL]
    assert list(OutboxMessage.objects.values_list("aggregate_id", flat=True)) == ["SKU-1"]

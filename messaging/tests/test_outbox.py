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
    assert row.sent_at is None
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

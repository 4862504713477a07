"""Two workers applying events of one new order at the same moment: one row, both applied."""

import pytest
from django.db import transaction

from contracts.registry import event_class
from monolith.orderhistory.models import OrderHistory
from monolith.orderhistory.services import order_history_apply
from monolith.orderhistory.tests.factories import Story
from monolith.testing import run_concurrently

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("attempt", range(3))
def test_the_first_events_of_an_order_at_once_make_one_row(attempt):
    story = Story(user_id=7)
    envelopes = [story.order("pending"), story.charge("pending"), story.stock("active")]

    def apply_one(index: int):
        def run() -> None:
            item = envelopes[index]
            event = event_class(item.type, item.version).model_validate(item.data)
            with transaction.atomic():
                order_history_apply(event=event, envelope=item)

        return run

    run_concurrently([apply_one(i) for i in range(len(envelopes))])
    row = OrderHistory.objects.get(pk=story.order_id)
    assert (row.order_version, row.charge_version, row.reservation_version) == (1, 1, 1)
    assert (row.status, row.payment_status, row.stock_state) == ("pending", "requested", "active")

import uuid

import pytest
from django.contrib.auth import get_user_model

from monolith.orderhistory.tests.factories import Story, apply

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/orderhistory/orderhistory/"


@pytest.fixture
def admin_client(client):
    admin = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(admin)
    return client


def test_the_admin_lists_filters_and_searches(admin_client):
    # Ids without digits, so that searching "41" can only match a user id.
    paid = Story(user_id=41, order_id=uuid.UUID("a" * 32), charge_id=uuid.UUID("b" * 32))
    declined = Story(user_id=42, order_id=uuid.UUID("c" * 32), charge_id=uuid.UUID("d" * 32))
    apply(paid.paid() + declined.declined())
    page = admin_client.get(CHANGELIST)
    assert page.status_code == 200
    assert str(paid.order_id) in page.text and str(declined.order_id) in page.text
    filtered = admin_client.get(CHANGELIST, {"payment_status__exact": "declined"})
    assert str(declined.order_id) in filtered.text and str(paid.order_id) not in filtered.text
    filtered = admin_client.get(CHANGELIST, {"status__exact": "confirmed"})
    assert str(paid.order_id) in filtered.text and str(declined.order_id) not in filtered.text
    by_id = admin_client.get(CHANGELIST, {"q": str(declined.order_id)}).context["cl"].result_list
    assert [row.order_id for row in by_id] == [declined.order_id]
    by_user = admin_client.get(CHANGELIST, {"q": "41"}).context["cl"].result_list
    assert [row.order_id for row in by_user] == [paid.order_id]


def test_the_admin_is_read_only(admin_client):
    story = Story(user_id=41)
    apply(story.paid())
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403
    detail = admin_client.get(f"{CHANGELIST}{story.order_id}/change/")
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.text
    assert admin_client.get(f"{CHANGELIST}{story.order_id}/delete/").status_code == 403

"""The monolith's services publish their domain events through the outbox, in order
per aggregate, and only for changes that commit."""

import json

import pytest

from messaging.models import OutboxMessage

pytestmark = pytest.mark.django_db


def test_monolith_services_publish_their_domain_events(api, make_product):
    make_product(sku="EVT", on_hand=5)
    body = {"lines": [{"sku": "EVT", "quantity": 2}], "card_token": "tok_ok"}
    order_id = api.post("/api/orders/", body, format="json").json()["id"]
    api.post(f"/api/orders/{order_id}/cancel/")
    by_aggregate: dict[str, list[tuple[str, int]]] = {}
    for row in OutboxMessage.objects.order_by("id"):
        by_aggregate.setdefault(row.aggregate, []).append((row.event_type, row.sequence))
    assert by_aggregate["orders.order"] == [
        ("orders.OrderPlaced", 1),
        ("orders.OrderConfirmed", 2),
        ("orders.OrderCancelled", 3),
    ]
    assert by_aggregate["inventory.reservation"] == [
        ("inventory.StockReserved", 1),
        ("inventory.StockCommitted", 2),
        ("inventory.StockReturned", 3),
    ]
    assert by_aggregate["payments.charge"] == [
        ("payments.ChargeRequested", 1),
        ("payments.ChargeCaptured", 2),
        ("payments.ChargeRefunded", 3),
    ]
    stock = [(t, s) for t, s in by_aggregate["inventory.product"]]
    assert stock[0] == ("inventory.ProductCreated", 1)
    assert [s for _, s in stock] == list(range(1, len(stock) + 1))


def test_an_order_refused_for_stock_leaves_no_event(api, make_product):
    make_product(sku="FEW", on_hand=1)
    before = OutboxMessage.objects.count()
    body = {"lines": [{"sku": "FEW", "quantity": 2}], "card_token": "tok_ok"}
    assert api.post("/api/orders/", body, format="json").status_code == 409
    assert OutboxMessage.objects.count() == before


def test_registration_publishes_user_registered(anon):
    anon.post(
        "/api/users/register/",
        {"username": "eve", "email": "eve@example.com", "password": "a-long-passphrase"},
        format="json",
    )
    row = OutboxMessage.objects.get(event_type="users.UserRegistered")
    assert json.loads(row.envelope)["data"]["username"] == "eve"


def test_the_request_id_travels_into_the_events_it_causes(api, make_product):
    make_product(sku="RID", on_hand=5)
    body = {"lines": [{"sku": "RID", "quantity": 1}], "card_token": "tok_ok"}
    response = api.post("/api/orders/", body, format="json", HTTP_X_REQUEST_ID="req-42")
    assert response["X-Request-ID"] == "req-42"
    caused = OutboxMessage.objects.filter(aggregate="orders.order")
    assert {json.loads(row.envelope)["correlation_id"] for row in caused} == {"req-42"}
    generated = api.get("/api/orders/", HTTP_X_REQUEST_ID="bad id with spaces")["X-Request-ID"]
    assert generated != "bad id with spaces" and len(generated) == 32


def test_the_saga_state_is_visible_in_admin(client, user):
    from django.contrib.auth import get_user_model

    from monolith.orders.models import Order, OrderSaga

    admin_user = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw")
    client.force_login(admin_user)
    order = Order.objects.create(user_id=user.pk, total="1.00", currency="EUR")
    OrderSaga.objects.create(order=order, card_token="tok_ok", deadline="2030-01-01T00:00:00Z")
    page = client.get("/admin/orders/ordersaga/")
    assert page.status_code == 200 and b"reserving" in page.content
    assert b"tok_ok" not in client.get(f"/admin/orders/ordersaga/{order.id}/change/").content

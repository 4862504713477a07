import uuid
from decimal import Decimal

import pytest

from monolith.inventory.models import Reservation, Stock
from monolith.orders.models import Order
from monolith.payments.models import Charge

pytestmark = pytest.mark.django_db


def place(client, *lines, card="tok_ok"):
    body = {"lines": [{"sku": sku, "quantity": qty} for sku, qty in lines], "card_token": card}
    return client.post("/api/orders/", body, format="json")


def counts(sku):
    stock = Stock.objects.get(product__sku=sku)
    return stock.on_hand, stock.reserved


def test_a_paid_order_is_confirmed_and_takes_the_stock(api, make_product):
    make_product(sku="MUG", price="4.50", on_hand=10)
    make_product(sku="PEN", price="1.25", on_hand=10)
    response = place(api, ("MUG", 2), ("PEN", 4))
    assert response.status_code == 201
    order = response.json()
    assert (order["status"], order["cancel_reason"], order["total"]) == ("confirmed", "", "14.00")
    assert [(line["sku"], line["line_total"]) for line in order["lines"]] == [
        ("MUG", "9.00"),
        ("PEN", "5.00"),
    ]
    assert counts("MUG") == (8, 0) and counts("PEN") == (6, 0)
    charge = Charge.objects.get(pk=order["payment_id"])
    assert (charge.status, charge.amount, charge.order_id) == (
        "captured",
        Decimal("14.00"),
        uuid.UUID(order["id"]),
    )


@pytest.mark.parametrize(
    "card, reason", [("tok_declined", "payment_declined"), ("tok_gateway_error", "payment_failed")]
)
def test_an_unpaid_order_is_cancelled_and_releases_the_stock(api, make_product, card, reason):
    make_product(sku="MUG", on_hand=10)
    order = place(api, ("MUG", 3), card=card).json()
    assert (order["status"], order["cancel_reason"]) == ("cancelled", reason)
    assert counts("MUG") == (10, 0)
    assert Reservation.objects.get(order_id=order["id"]).status == "released"


def test_not_enough_stock_is_409_and_leaves_nothing_behind(api, make_product):
    make_product(sku="RARE", on_hand=2)
    response = place(api, ("RARE", 3))
    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_stock"
    assert not Order.objects.exists() and not Charge.objects.exists()
    assert counts("RARE") == (2, 0)


def test_cancelling_a_confirmed_order_refunds_and_restocks(api, make_product):
    make_product(sku="MUG", on_hand=5)
    order = place(api, ("MUG", 2)).json()
    cancelled = api.post(f"/api/orders/{order['id']}/cancel/")
    assert cancelled.status_code == 200
    assert (cancelled.json()["status"], cancelled.json()["cancel_reason"]) == (
        "cancelled",
        "customer_cancelled",
    )
    assert counts("MUG") == (5, 0)
    assert Charge.objects.get(pk=order["payment_id"]).status == "refunded"
    again = api.post(f"/api/orders/{order['id']}/cancel/")
    assert again.status_code == 409 and again.json()["code"] == "order_already_cancelled"


def test_users_see_and_cancel_only_their_own_orders(client_for, make_user, make_product):
    make_product(sku="MUG", on_hand=5)
    alice, bob = client_for(make_user()), client_for(make_user())
    order = place(alice, ("MUG", 1)).json()
    assert bob.get(f"/api/orders/{order['id']}/").status_code == 404
    assert bob.post(f"/api/orders/{order['id']}/cancel/").status_code == 404
    assert bob.get("/api/orders/").json()["count"] == 0
    assert alice.get("/api/orders/").json()["results"][0]["id"] == order["id"]
    assert alice.get("/api/orders/?status=cancelled").json()["count"] == 0
    assert alice.get("/api/orders/?status=bogus").status_code == 400
    assert Order.objects.get().status == "confirmed"


BAD_BODIES = [
    ({"card_token": "tok_ok"}, "lines"),
    ({"lines": [], "card_token": "tok_ok"}, "lines"),
    ({"lines": [{"sku": "MUG"}], "card_token": "tok_ok"}, "lines.0.quantity"),
    ({"lines": [{"sku": "MUG", "quantity": 0}], "card_token": "tok_ok"}, "lines.0.quantity"),
    ({"lines": [{"sku": "MUG", "quantity": -1}], "card_token": "tok_ok"}, "lines.0.quantity"),
    ({"lines": [{"sku": "MUG", "quantity": 10**12}], "card_token": "tok_ok"}, "lines.0.quantity"),
    ({"lines": [{"sku": "MUG", "quantity": "two"}], "card_token": "tok_ok"}, "lines.0.quantity"),
    ({"lines": [{"sku": "MUG", "quantity": 1.5}], "card_token": "tok_ok"}, "lines.0.quantity"),
    (
        {
            "lines": [{"sku": "MUG", "quantity": 1}, {"sku": "NOPE", "quantity": 1}],
            "card_token": "tok_ok",
        },
        "lines.1.sku",
    ),
    ({"lines": [{"sku": ["MUG"], "quantity": 1}], "card_token": "tok_ok"}, "lines.0.sku"),
    ({"lines": "MUG", "card_token": "tok_ok"}, "lines"),
    ({"lines": [{"sku": "MUG", "quantity": 1}] * 51, "card_token": "tok_ok"}, "lines"),
    ({"lines": [{"sku": "MUG", "quantity": 1}]}, "card_token"),
    ({"lines": [{"sku": "MUG", "quantity": 1}], "card_token": "tok_unknown"}, "card_token"),
    (
        {
            "lines": [{"sku": "MUG", "quantity": 1}, {"sku": "USD-1", "quantity": 1}],
            "card_token": "tok_ok",
        },
        "lines",
    ),
]


@pytest.mark.parametrize("body, field", BAD_BODIES)
def test_bad_orders_are_400_with_field_errors_and_change_nothing(api, make_product, body, field):
    make_product(sku="MUG", on_hand=5)
    make_product(sku="USD-1", on_hand=5, currency="USD")
    response = api.post("/api/orders/", body, format="json")
    assert response.status_code == 400, response.json()
    # One shape for the serializer's errors and the services': no `code`, and the
    # message on the field that is wrong.
    assert set(response.json()) == {"type", "detail", "errors"}
    assert response.json()["type"] == "validation_error"
    assert list(response.json()["errors"]) == [field]
    assert not Order.objects.exists() and not Charge.objects.exists()
    assert counts("MUG") == (5, 0)


@pytest.mark.parametrize(
    "payload, content_type",
    [("{not json", "application/json"), ("lines=1", "text/plain"), ("[1, 2]", "application/json")],
)
def test_malformed_requests_are_4xx(api, payload, content_type):
    response = api.generic("POST", "/api/orders/", payload, content_type=content_type)
    assert response.status_code in (400, 415)
    assert response.json()["type"] in {"parse_error", "unsupported_media_type", "validation_error"}
    assert not Order.objects.exists()


def test_unknown_ids_and_endpoints_are_json_404s(api):
    assert api.get(f"/api/orders/{uuid.uuid4()}/").json()["type"] == "not_found"
    assert api.get("/api/orders/not-a-uuid/").status_code == 404
    missing = api.get("/api/nothing-here/")
    assert missing.status_code == 404


def test_orders_need_a_token(anon):
    assert anon.get("/api/orders/").status_code == 401
    assert anon.post("/api/orders/", {}, format="json").status_code == 401

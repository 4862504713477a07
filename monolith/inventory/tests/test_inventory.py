import uuid

import pytest

from monolith.inventory import services
from monolith.inventory.models import Reservation, Stock
from monolith.inventory.services import InsufficientStock, LineRequest
from servicekit.errors import Conflict

pytestmark = pytest.mark.django_db


def stock_of(sku: str) -> Stock:
    return Stock.objects.get(product__sku=sku)


def test_anyone_can_browse_products_paginated(anon, make_product):
    for i in range(3):
        make_product(sku=f"BROWSE-{i}")
    page = anon.get("/api/inventory/products/?page_size=2").json()
    assert page["count"] == 3
    assert [p["sku"] for p in page["results"]] == ["BROWSE-0", "BROWSE-1"]
    assert page["results"][0]["stock"] == {"on_hand": 10, "reserved": 0, "available": 10}
    assert anon.get(page["next"]).json()["results"][0]["sku"] == "BROWSE-2"


def test_unknown_product_is_404_with_the_error_body(anon):
    response = anon.get("/api/inventory/products/NOPE/")
    assert response.status_code == 404
    assert response.json() == {
        "type": "not_found",
        "detail": "No product with SKU NOPE.",
        "code": "not_found",
    }


def test_only_staff_create_products(anon, api, staff_api):
    body = {"sku": "NEW-1", "name": "New", "price": "3.50", "currency": "EUR", "on_hand": 5}
    assert anon.post("/api/inventory/products/", body, format="json").status_code == 401
    assert api.post("/api/inventory/products/", body, format="json").status_code == 403
    created = staff_api.post("/api/inventory/products/", body, format="json")
    assert created.status_code == 201
    assert created.json()["price"] == "3.50"
    again = staff_api.post("/api/inventory/products/", body, format="json")
    assert again.status_code == 400 and "sku" in again.json()["errors"]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"price": "-1.00"}, "price"),
        ({"price": "1.234"}, "price"),
        ({"price": "1e30"}, "price"),
        ({"currency": "euro"}, "currency"),
        ({"sku": "has space"}, "sku"),
        ({"on_hand": -3}, "on_hand"),
        ({"name": ""}, "name"),
    ],
)
def test_product_create_rejects_bad_fields(staff_api, change, field):
    body = {"sku": "OK-1", "name": "New", "price": "3.50", "currency": "EUR", **change}
    response = staff_api.post("/api/inventory/products/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_stock_adjust_cannot_go_below_reserved(staff_api, make_product):
    make_product(sku="ADJ", on_hand=5)
    services.stock_reserve(order_id=uuid.uuid4(), lines=[LineRequest("ADJ", 3)])
    assert staff_api.post("/api/inventory/products/ADJ/stock/", {"delta": 4}, format="json").json()[
        "stock"
    ] == {"on_hand": 9, "reserved": 3, "available": 6}
    refused = staff_api.post("/api/inventory/products/ADJ/stock/", {"delta": -7}, format="json")
    assert refused.status_code == 409
    assert refused.json()["code"] == "stock_below_reserved"
    assert stock_of("ADJ").on_hand == 9


def test_reserve_commit_release_and_return_keep_counts_consistent(make_product):
    make_product(sku="A", on_hand=10)
    make_product(sku="B", on_hand=10)
    paid, unpaid = uuid.uuid4(), uuid.uuid4()
    services.stock_reserve(
        order_id=paid, lines=[LineRequest("A", 2), LineRequest("B", 1), LineRequest("A", 1)]
    )
    services.stock_reserve(order_id=unpaid, lines=[LineRequest("A", 4)])
    assert (stock_of("A").on_hand, stock_of("A").reserved) == (10, 7)

    services.reservation_commit(order_id=paid)
    services.reservation_release(order_id=unpaid)
    assert (stock_of("A").on_hand, stock_of("A").reserved) == (7, 0)
    assert (stock_of("B").on_hand, stock_of("B").reserved) == (9, 0)

    services.reservation_commit(order_id=paid)  # a retry is a no-op
    assert stock_of("A").on_hand == 7
    services.reservation_return(order_id=paid)
    assert (stock_of("A").on_hand, stock_of("B").on_hand) == (10, 10)
    with pytest.raises(Conflict):
        services.reservation_release(order_id=paid)


def test_reserve_is_all_or_nothing(make_product):
    make_product(sku="PLENTY", on_hand=10)
    make_product(sku="SCARCE", on_hand=1)
    with pytest.raises(InsufficientStock) as refused:
        services.stock_reserve(
            order_id=uuid.uuid4(), lines=[LineRequest("PLENTY", 5), LineRequest("SCARCE", 2)]
        )
    assert refused.value.extra == {"sku": "SCARCE", "requested": 2, "available": 1}
    assert stock_of("PLENTY").reserved == 0
    assert not Reservation.objects.exists()


def test_reserve_twice_for_one_order_holds_stock_once(make_product):
    make_product(sku="ONCE", on_hand=5)
    order_id = uuid.uuid4()
    services.stock_reserve(order_id=order_id, lines=[LineRequest("ONCE", 2)])
    services.stock_reserve(order_id=order_id, lines=[LineRequest("ONCE", 2)])
    assert stock_of("ONCE").reserved == 2


def test_reservations_are_staff_only_and_validate_order_id(api, staff_api, make_product):
    make_product(sku="R", on_hand=5)
    order_id = uuid.uuid4()
    services.stock_reserve(order_id=order_id, lines=[LineRequest("R", 2)])
    assert api.get("/api/inventory/reservations/").status_code == 403
    listed = staff_api.get(f"/api/inventory/reservations/?order_id={order_id}").json()
    assert listed["results"][0]["lines"] == [{"sku": "R", "quantity": 2}]
    bad = staff_api.get("/api/inventory/reservations/?order_id=nope")
    assert bad.status_code == 400 and "order_id" in bad.json()["errors"]
    assert staff_api.get(f"/api/inventory/reservations/{order_id}/").json()["status"] == "active"

from datetime import timedelta

import pytest

from monolith.orderhistory.tests.factories import T0, Story, apply

pytestmark = pytest.mark.django_db

URL = "/api/orders/history/"


def place(user_id: int, *, minutes: int = 0, path: str = "paid") -> Story:
    story = Story(user_id=user_id, placed_at=T0 + timedelta(minutes=minutes))
    apply(getattr(story, path)())
    return story


def test_a_caller_sees_only_their_orders_newest_first(client_for, make_user):
    me, other = make_user(), make_user()
    mine = [place(me.pk, minutes=m) for m in (5, 20, 10)]
    place(other.pk)
    body = client_for(me).get(URL).json()
    assert body["count"] == 3
    newest_first = sorted(mine, key=lambda s: s.placed_at, reverse=True)
    assert [r["order_id"] for r in body["results"]] == [str(s.order_id) for s in newest_first]
    assert client_for(other).get(URL).json()["count"] == 1


def test_a_row_reads_like_an_order_with_its_payment_and_stock(api, user):
    story = place(user.pk, path="refunded_after_cancel")
    (row,) = api.get(URL).json()["results"]
    assert row == {
        "order_id": str(story.order_id),
        "status": "cancelled",
        "cancel_reason": "customer_cancelled",
        "total": "9.00",
        "currency": "EUR",
        "lines": [{"sku": "MUG", "name": "MUG name", "quantity": 2, "unit_price": "4.50"}],
        "line_count": 1,
        "payment_id": str(story.charge_id),
        "payment_status": "refunded",
        "refunded_amount": "9.00",
        "stock_state": "returned",
        "created_at": "2026-03-01T12:00:00Z",
        "updated_at": "2026-03-01T12:09:00Z",
    }


def test_pages(api, user):
    for minute in range(25):
        place(user.pk, minutes=minute)
    first = api.get(URL).json()
    assert (first["count"], len(first["results"]), first["previous"]) == (25, 20, None)
    assert first["next"].endswith("?page=2")
    second = api.get(URL, {"page": 2}).json()
    assert len(second["results"]) == 5 and second["next"] is None
    seen = [r["order_id"] for r in first["results"] + second["results"]]
    assert len(set(seen)) == 25
    small = api.get(URL, {"page_size": 10, "page": 3}).json()
    assert len(small["results"]) == 5


def test_filter_by_status(api, user):
    paid = place(user.pk, minutes=1)
    declined = place(user.pk, minutes=2, path="declined")
    rejected = place(user.pk, minutes=3, path="out_of_stock")
    confirmed = api.get(URL, {"status": "confirmed"}).json()["results"]
    assert [r["order_id"] for r in confirmed] == [str(paid.order_id)]
    cancelled = api.get(URL, {"status": "cancelled"}).json()["results"]
    assert [r["order_id"] for r in cancelled] == [str(rejected.order_id), str(declined.order_id)]
    assert api.get(URL, {"status": "pending"}).json()["count"] == 0


def test_an_unknown_status_is_a_400_that_names_the_choices(api):
    response = api.get(URL, {"status": "shipped"})
    assert response.status_code == 400
    assert "confirmed" in str(response.json())


def test_a_row_without_its_order_event_is_not_listed_yet(api, user):
    story = Story(user_id=user.pk)
    placed = story.order("pending")
    apply([story.stock("active"), story.charge("pending")])
    assert api.get(URL).json()["count"] == 0
    apply([placed])
    assert api.get(URL).json()["count"] == 1


def test_no_token_is_401(anon):
    response = anon.get(URL)
    assert response.status_code == 401


def test_an_order_id_path_still_reaches_the_orders_app(api):
    response = api.get("/api/orders/00000000-0000-0000-0000-000000000000/")
    assert response.status_code == 404


def test_the_endpoint_is_in_the_openapi_schema(api):
    response = api.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    operation = response.json()["paths"][URL]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"status", "page", "page_size"}
    page = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert page.endswith("/OrderHistoryPage")

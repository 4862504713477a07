from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from monolith.payments.models import Charge, Refund
from monolith.testing import run_concurrently
from servicekit import fakegateway as gateway

pytestmark = pytest.mark.django_db

CHARGE = {"amount": "25.00", "currency": "EUR", "card_token": "tok_ok"}


@pytest.mark.parametrize(
    "token, status, reason",
    [
        ("tok_ok", "captured", ""),
        ("tok_slow", "captured", ""),
        ("tok_declined", "declined", "card_declined"),
        ("tok_insufficient", "declined", "insufficient_funds"),
        ("tok_gateway_error", "failed", "gateway_error"),
    ],
)
def test_the_card_token_decides_the_outcome(api, token, status, reason):
    response = api.post("/api/payments/charges/", {**CHARGE, "card_token": token}, format="json")
    assert response.status_code == 201
    assert (response.json()["status"], response.json()["failure_reason"]) == (status, reason)
    assert Charge.objects.get().status == status


@pytest.mark.parametrize(
    "change, field",
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"amount": "99999999999"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"currency": "eur"}, "currency"),
        ({"card_token": "tok_nope"}, "card_token"),
        ({"order_id": "not-a-uuid"}, "order_id"),
    ],
)
def test_bad_charges_are_400_and_charge_nothing(api, change, field):
    response = api.post("/api/payments/charges/", {**CHARGE, **change}, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Charge.objects.exists()


def test_a_retry_with_the_same_key_returns_the_first_result(api):
    first = api.post("/api/payments/charges/", CHARGE, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = api.post("/api/payments/charges/", CHARGE, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()
    assert (first["Idempotent-Replayed"], again["Idempotent-Replayed"]) == ("false", "true")
    assert Charge.objects.count() == 1


def test_the_same_key_with_another_body_is_a_conflict(api):
    api.post("/api/payments/charges/", CHARGE, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    other = {**CHARGE, "amount": "26.00"}
    response = api.post("/api/payments/charges/", other, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"


def test_keys_belong_to_their_user(client_for, make_user):
    alice, bob = client_for(make_user()), client_for(make_user())
    a = alice.post("/api/payments/charges/", CHARGE, format="json", HTTP_IDEMPOTENCY_KEY="same")
    b = bob.post("/api/payments/charges/", CHARGE, format="json", HTTP_IDEMPOTENCY_KEY="same")
    assert a.json()["id"] != b.json()["id"]


def test_an_unusable_key_is_400(api):
    response = api.post(
        "/api/payments/charges/", CHARGE, format="json", HTTP_IDEMPOTENCY_KEY="x" * 300
    )
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["errors"]


@pytest.mark.django_db(transaction=True)
def test_the_same_key_charged_concurrently_charges_once(user, monkeypatch):
    from monolith.conftest import token_for

    calls = []
    real_charge = gateway.gateway_charge

    def counting_charge(**kwargs):
        calls.append(kwargs)
        return real_charge(**kwargs)

    monkeypatch.setattr(gateway, "gateway_charge", counting_charge)
    token = token_for(user)
    body = {**CHARGE, "card_token": "tok_slow"}

    def charge():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client.post(
            "/api/payments/charges/", body, format="json", HTTP_IDEMPOTENCY_KEY="race"
        )

    responses = run_concurrently([charge] * 6)
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert sorted(r["Idempotent-Replayed"] for r in responses) == ["false"] + ["true"] * 5
    assert len(calls) == 1
    assert Charge.objects.count() == 1


def test_refunds_partial_then_the_rest_then_nothing_more(api):
    charge_id = api.post("/api/payments/charges/", CHARGE, format="json").json()["id"]
    url = f"/api/payments/charges/{charge_id}/refunds/"
    assert api.post(url, {"amount": "10.00"}, format="json").status_code == 201
    assert api.get(f"/api/payments/charges/{charge_id}/").json()["status"] == "partially_refunded"
    too_much = api.post(url, {"amount": "15.01"}, format="json")
    assert too_much.status_code == 409 and too_much.json()["refundable"] == "15.00"
    assert api.post(url, {}, format="json").json()["amount"] == "15.00"
    charge = api.get(f"/api/payments/charges/{charge_id}/").json()
    assert (charge["status"], charge["refunded_amount"]) == ("refunded", "25.00")
    assert api.post(url, {}, format="json").status_code == 409
    assert sum(r.amount for r in Refund.objects.all()) == Decimal("25.00")


def test_a_declined_charge_cannot_be_refunded(api):
    body = {**CHARGE, "card_token": "tok_declined"}
    charge_id = api.post("/api/payments/charges/", body, format="json").json()["id"]
    response = api.post(f"/api/payments/charges/{charge_id}/refunds/", {}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "charge_not_refundable"


def test_users_see_only_their_own_charges(client_for, make_user):
    alice, bob = client_for(make_user()), client_for(make_user())
    charge_id = alice.post("/api/payments/charges/", CHARGE, format="json").json()["id"]
    assert bob.get(f"/api/payments/charges/{charge_id}/").status_code == 404
    assert (
        bob.post(f"/api/payments/charges/{charge_id}/refunds/", {}, format="json").status_code
        == 404
    )
    assert bob.get("/api/payments/charges/").json()["count"] == 0
    assert alice.get("/api/payments/charges/").json()["count"] == 1


def test_charges_need_a_token(anon):
    response = anon.post("/api/payments/charges/", CHARGE, format="json")
    assert response.status_code == 401
    assert response.json()["type"] == "not_authenticated"

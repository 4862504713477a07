"""Every path of the orders saga, with payments and inventory in their own services."""

import signal

import pytest

from tests.integration.harness import Client, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


STOCK = (
    "SELECT p.version, s.on_hand, s.reserved FROM inventory_product p "
    "JOIN inventory_stock s ON s.product_id = p.id WHERE p.sku = '{sku}'"
)


def stock(stack, service, sku):
    product = stack.sql(service, STOCK.format(sku=sku))
    return product[0]


def same_stock_everywhere(stack, sku):
    wait_until(
        lambda: stock(stack, "monolith", sku) == stock(stack, "inventory", sku),
        timeout=30,
        message=f"{sku} differs between the monolith and the inventory service",
    )
    return stock(stack, "inventory", sku)


@pytest.mark.parametrize(
    "card, status, reason",
    [
        ("tok_ok", "confirmed", ""),
        ("tok_declined", "cancelled", "payment_declined"),
        ("tok_gateway_error", "cancelled", "payment_failed"),
    ],
)
def test_an_order_settles_through_the_services(extracted_stack, card, status, reason):
    client = Client(extracted_stack.urls["proxy"])
    before = same_stock_everywhere(extracted_stack, "SKU-0005")
    placed = client.order(("SKU-0005", 2), card=card)
    assert placed["status"] == "pending"
    order = client.settled(placed["id"])
    assert (order["status"], order["cancel_reason"]) == (status, reason)
    assert order["payment_id"]
    _, on_hand, reserved = same_stock_everywhere(extracted_stack, "SKU-0005")
    assert reserved == 0
    assert on_hand == before[1] - (2 if status == "confirmed" else 0)
    charge = client.get(f"/api/payments/charges/{order['payment_id']}/").json()
    assert charge["status"] == {"confirmed": "captured", "": None}.get(status, charge["status"])


def test_out_of_stock_cancels_without_charging(extracted_stack):
    client = Client(extracted_stack.urls["proxy"])
    order = client.settled(client.order(("SKU-0006", 999))["id"])
    assert (order["status"], order["cancel_reason"], order["payment_id"]) == (
        "cancelled",
        "out_of_stock",
        None,
    )


def test_cancelling_a_saga_order_refunds_and_restocks(extracted_stack):
    client = Client(extracted_stack.urls["proxy"])
    before = same_stock_everywhere(extracted_stack, "SKU-0007")
    order = client.settled(client.order(("SKU-0007", 3))["id"])
    assert order["status"] == "confirmed"
    assert client.post(f"/api/orders/{order['id']}/cancel/").status_code == 200
    wait_until(
        lambda: (
            client.get(f"/api/payments/charges/{order['payment_id']}/").json()["status"]
            == "refunded"
        ),
        timeout=30,
        message="the charge was not refunded",
    )
    wait_until(
        lambda: same_stock_everywhere(extracted_stack, "SKU-0007")[1:] == before[1:],
        timeout=30,
        message="the stock did not come back",
    )


def test_a_service_down_for_a_while_makes_the_saga_wait(extracted_stack):
    client = Client(extracted_stack.urls["proxy"])
    extracted_stack.stack.kill("inventory-worker")
    try:
        placed = client.order(("SKU-0008", 1))
        wait_until(
            lambda: client.get(f"/api/orders/{placed['id']}/").json()["status"] == "pending",
            timeout=5,
            message="the order should wait",
        )
    finally:
        extracted_stack.stack.relaunch("inventory-worker")
    assert client.settled(placed["id"])["status"] == "confirmed"


def test_a_service_down_too_long_times_out_cleanly(extracted_stack):
    client = Client(extracted_stack.urls["proxy"])
    before = same_stock_everywhere(extracted_stack, "SKU-0009")
    extracted_stack.stack.kill("payments-worker")
    try:
        placed = client.order(("SKU-0009", 1))
        order = client.settled(placed["id"], timeout=60)  # saga timeout is 15 s in these stacks
        assert (order["status"], order["cancel_reason"]) == ("cancelled", "timeout")
    finally:
        extracted_stack.stack.relaunch("payments-worker")

    # The charge command expired with the saga: when payments is back it takes the
    # command and discards it, so the customer of a cancelled order is never charged (not
    # even to be refunded afterwards); the stock held for the order is given back.
    order_id = placed["id"]
    taken = (
        "SELECT count(*) FROM messaging_inboxmessage WHERE event_type = 'payments.ChargeOrder' "
        f"AND aggregate_id = '{order_id}'"
    )
    wait_until(
        lambda: extracted_stack.sql("payments", taken) == [(1,)],
        timeout=60,
        message="the payments service never took the charge command",
    )
    for side in ("payments", "monolith"):
        # SQLite keeps UUIDs as 32 hex digits, PostgreSQL as a uuid
        charges = extracted_stack.sql(
            side,
            f"SELECT status FROM payments_charge WHERE order_id IN "
            f"('{order_id}', '{order_id.replace('-', '')}')",
        )
        assert charges == [], f"{side}: a cancelled order was charged: {charges}"
    wait_until(
        lambda: same_stock_everywhere(extracted_stack, "SKU-0009")[1:] == before[1:],
        timeout=30,
        message="the stock held for the timed-out order was not released",
    )


def test_a_worker_killed_mid_saga_loses_no_order(extracted_stack):
    client = Client(extracted_stack.urls["proxy"])
    placed = [client.order(("SKU-0010", 1)) for _ in range(6)]
    extracted_stack.stack.kill("monolith-worker", signal.SIGKILL)
    extracted_stack.stack.relaunch("monolith-worker")
    settled = [client.settled(order["id"]) for order in placed]
    assert {order["status"] for order in settled} == {"confirmed"}

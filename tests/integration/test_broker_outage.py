"""The broker goes away in the middle of a run and comes back: every service recovers by
itself; nothing is lost, nothing doubled, both sides end identical."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from messaging.testing import FaultProxy
from tests.integration.harness import REAL, Client, deployment, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_broker_outage_mid_run_loses_and_doubles_nothing(tmp_path: Path) -> None:
    proxy = FaultProxy("127.0.0.1", 5672) if REAL else None
    env = {"CELERY_BROKER_URL": f"amqp://guest:guest@127.0.0.1:{proxy.port}//"} if proxy else {}
    try:
        with deployment(tmp_path, CARVE_SAGA_TIMEOUT_SECONDS="120", **env) as stack:
            stack.route("inventory", "extracted")
            stack.route("payments", "extracted")
            stack.wait_owner("inventory", "inventory")
            stack.wait_owner("payments", "payments")
            client = Client(stack.urls["proxy"], "user0006")
            before = [client.order(("SKU-0014", 1))["id"] for _ in range(3)]

            queue = tmp_path / "broker" / "queue"
            if proxy:
                proxy.cut()
            else:
                os.rename(queue, queue.with_name("queue.away"))
            during = [client.order(("SKU-0014", 1))["id"] for _ in range(3)]
            charges = [
                client.post(
                    "/api/payments/charges/",
                    {"amount": "4.00", "currency": "EUR", "card_token": "tok_ok"},
                ).json()["id"]
                for _ in range(3)
            ]
            assert {client.get(f"/api/orders/{o}/").json()["status"] for o in during} == {"pending"}
            if proxy:
                proxy.restore()
            else:
                os.rename(queue.with_name("queue.away"), queue)

            settled = [client.settled(order, timeout=120) for order in before + during]
            assert {order["status"] for order in settled} == {"confirmed"}
            wait_until(
                lambda: stack.carve("extract", "verify").returncode == 0,
                timeout=120,
                message=stack.carve("extract", "verify").stdout,
            )
            for side in ("monolith", "payments"):
                rows = stack.sql(
                    side, "SELECT order_id FROM payments_charge WHERE order_id IS NOT NULL"
                )
                order_ids = [str(row[0]).replace("-", "") for row in rows]
                for order in before + during:  # one charge per order, on both sides
                    assert order_ids.count(order.replace("-", "")) == 1, (side, order)
                ids = {
                    str(row[0]).replace("-", "")
                    for row in stack.sql(side, "SELECT id FROM payments_charge")
                }
                assert all(c.replace("-", "") in ids for c in charges)
    finally:
        if proxy:
            proxy.close()

"""Flip under load: shoppers send mixed reads and writes through the proxy while the
payments and inventory routes cycle monolith -> shadow -> canary -> extracted -> monolith
(twice). Afterwards every acknowledged write exists on both sides, `carve extract verify`
finds no drift, no request failed because of a flip, and the whole `carve parity` scenario
set, run on this deployment (routes in shadow, then extracted), comes out clean: the one
parity test on a real deployment, embedded or on PostgreSQL and RabbitMQ."""

from __future__ import annotations

import pytest

from carve.load import Load
from parity.model import Report
from parity.report import render
from parity.scenarios import load
from tests.integration.harness import deployment, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.parity]
CYCLE = ["shadow", "canary 30", "extracted", "monolith", "canary 60", "extracted", "monolith"]
SHOPPERS = ["user0003", "user0004", "user0005"]


def writer_of(state: str, context: str) -> str:
    return "monolith" if state in ("monolith", "shadow") else context


def test_flips_under_load_lose_nothing_fail_nothing_and_leave_no_drift(tmp_path):
    # 2 shared cores run the 10 processes and the shoppers: give handovers and sagas room.
    # The shoppers' pace keeps the monolith's consumer, which a handover back to it waits
    # on, from falling minutes behind on a slow machine (its catch-up was 4-20 s here).
    # The saga's deadline outlasts a handover back to the monolith and its consumer's
    # catch-up: in a CI run of 2026-12-07 a charge run at the monolith's takeover had its
    # reply consumed 34 s later, 4 s past a 120 s deadline (the consumer's lag after a
    # handover is the open problem; a timed-out order is cancelled, not lost).
    with deployment(
        tmp_path, CARVE_HANDOVER_WAIT_SECONDS="45", CARVE_SAGA_TIMEOUT_SECONDS="300", DEBUG="0"
    ) as stack:
        load = Load(stack.urls["proxy"], SHOPPERS, pause=0.3)
        load.start()
        try:
            for state in CYCLE:
                stack.route("payments", state)
                stack.route("inventory", state)
                stack.wait_owner("payments", writer_of(state, "payments"))
                stack.wait_owner("inventory", writer_of(state, "inventory"))
                wanted = len(load.tally.charges) + 5  # traffic in every state

                def traffic_flowed(wanted: int = wanted) -> bool:
                    return len(load.tally.charges) >= wanted

                wait_until(
                    traffic_flowed,
                    timeout=90,
                    message=f"writes stalled in {state}: {load.tally.failures[-3:]}",
                )
        finally:
            tally = load.stop()
        assert not tally.failures, tally.failures[:5]
        assert tally.reads > 100 and len(tally.charges) > 30 and tally.orders

        def statuses() -> dict[str, str]:
            rows = stack.sql("monolith", "SELECT id, status FROM orders_order")
            return {str(order).replace("-", ""): status for order, status in rows}

        placed = {order.replace("-", "") for order in tally.orders}

        def settled() -> bool:
            current = statuses()  # one query, not one per order
            return {current[o] for o in placed} == {"confirmed"}

        wait_until(
            settled,
            timeout=180,
            message=f"orders not all confirmed: {sorted(set(statuses().values()))}",
        )
        wait_until(
            lambda: stack.carve("extract", "verify").returncode == 0,
            timeout=120,
            message=stack.carve("extract", "verify").stdout,
        )
        for side in ("monolith", "payments"):
            ids = {
                str(row[0]).replace("-", "")
                for row in stack.sql(side, "SELECT id FROM payments_charge")
            }
            missing = [c for c in tally.charges.values() if c.replace("-", "") not in ids]
            assert not missing, f"acknowledged charges missing in the {side}: {missing[:5]}"

        # And, flips behind it, the extracted deployment behaves as the monolith did.
        assert_parity(stack.parity())


def assert_parity(report: Report) -> None:
    """Every `carve parity` scenario ran, routes in shadow and then extracted, and came out
    clean: answers alike, no drift, no persistent shadow mismatch."""
    text = render(report, "text", width=140)
    assert [s.name for s in report.scenarios] == [s.name for s in load()]
    assert all(s.outcome in ("matched", "accepted") for s in report.scenarios), text
    assert len(report.data_checks) == 2 and all(c.clean for c in report.data_checks), text
    assert not report.persistent_shadow, text
    assert report.clean, text
    assert report.left.state == "payments, inventory: shadow"
    assert report.right.state == "payments, inventory: extracted"

    # The two passes really ran on different writers: out of stock was a 409 from the
    # monolith and a saga's cancellation once inventory was extracted; that is the one
    # accepted difference.
    accepted = [step for step in report.steps if step.outcome == "accepted"]
    assert accepted, text
    notes = {note.split(": ", 1)[1] for step in accepted for note in step.notes}
    assert all("refused for stock" in note for note in notes), notes
    placed = [s for s in accepted if s.endpoint == "POST /api/orders/"]
    assert placed and all(s.left and s.right for s in placed)
    assert {(s.left.status, s.right.status) for s in placed if s.left and s.right} == {(409, 201)}

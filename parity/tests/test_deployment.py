"""The whole scenario set against a real deployment (tests/integration/harness.py: every
process, embedded or on PostgreSQL and RabbitMQ with CARVE_TEST_REAL=1), routes on the
monolith (shadow) for the first pass and extracted for the second: it comes out clean."""

from __future__ import annotations

import pytest

from parity.report import render
from parity.scenarios import load
from tests.integration.harness import deployment

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.parity]


def test_the_extracted_deployment_behaves_as_the_monolith(tmp_path):
    # 2 shared cores for 10 processes: room for handovers, sagas and replication.
    # DEBUG off: clients get JSON errors, as from a real deployment (not DEBUG pages).
    with deployment(
        tmp_path, CARVE_HANDOVER_WAIT_SECONDS="45", CARVE_SAGA_TIMEOUT_SECONDS="120", DEBUG="0"
    ) as stack:
        report = stack.parity()
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

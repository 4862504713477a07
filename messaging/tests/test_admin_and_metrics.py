"""Operators see the event tables in Django admin and the backlog in /metrics."""

import pytest
from django.contrib.auth import get_user_model

from messaging.consumer import consume_delivery
from messaging.models import DeadLetter
from messaging.tests.factories import publish_stock_changes, stock_changed
from messaging.tests.ledger.models import Effect

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def operator(client):
    admin = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw")
    client.force_login(admin)
    return client


def test_outbox_inbox_and_dead_letter_pages_render(operator, events):
    publish_stock_changes(["ADM"], per_sku=2)
    page = operator.get("/admin/messaging/outboxmessage/?published=no")
    assert page.status_code == 200 and b"inventory.StockChanged" in page.content
    assert operator.get("/admin/messaging/inboxmessage/").status_code == 200
    assert operator.get("/admin/messaging/deadletter/").status_code == 200
    assert operator.get("/admin/messaging/outboxmessage/add/").status_code == 403


def test_a_dead_letter_is_replayed_from_admin(operator, events, settings, tmp_path, monkeypatch):
    settings.CARVE_EVENTS_MAX_ATTEMPTS = 1
    monkeypatch.setenv("CARVE_TEST_FAULT_DIR", str(tmp_path))
    (tmp_path / "poison-ADM").touch()
    consume_delivery([stock_changed("ADM", 1).to_dict()], app=events.app)
    letter = DeadLetter.objects.get()
    (tmp_path / "poison-ADM").unlink()
    response = operator.post(
        "/admin/messaging/deadletter/",
        {"action": "replay", "_selected_action": [letter.id]},
        follow=True,
    )
    assert b"Replayed 1 dead letter(s)." in response.content
    events.drain(until=lambda: Effect.objects.filter(aggregate_id="ADM").exists())


def test_metrics_expose_backlog_and_requests(client, events):
    publish_stock_changes(["MET"], per_sku=3)
    client.get("/healthz")
    body = client.get("/metrics").content.decode()
    assert "carve_outbox_backlog 3.0" in body
    assert 'carve_http_requests_total{method="GET",route="healthz",status="200"}' in body


def test_ownership_and_parked_commands_are_visible(operator, events):
    from messaging.models import ContextOwnership

    ContextOwnership.objects.create(context="payments", owner="payments", state="replica")
    page = operator.get("/admin/messaging/contextownership/")
    assert page.status_code == 200
    assert [row.state for row in page.context["cl"].result_list] == ["replica"]
    assert operator.get("/admin/messaging/parkedcommand/").status_code == 200
    assert operator.get("/admin/messaging/handovermarker/").status_code == 200

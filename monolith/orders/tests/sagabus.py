"""The orders saga driven in-process and synchronously: the monolith's outbox delivered to
its own handlers (what the relay and the consumer do, without a broker or a worker).

The monolith owns payments and inventory in these tests, so it runs the saga's commands
itself, with the very handlers the extracted services run (they are generated from the
monolith's apps). Which way an order is fulfilled (in-process, or by the saga) is the
route state the test chooses: `bus.route("extracted")` / `bus.route("monolith")`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

import messaging.handlers
from contracts.envelope import Envelope
from messaging.inbox import apply_event
from messaging.models import OutboxMessage
from monolith.orders import adapters, saga
from monolith.orders import services as order_services
from monolith.orders.models import OrderSaga

HANDLER_MODULES = (
    "monolith.inventory.handlers",
    "monolith.payments.handlers",
    "monolith.orders.handlers",
)


class SagaBus:
    def __init__(self) -> None:
        self.state = "extracted"
        self.held: list[Envelope] = []
        self.clock_ahead = timedelta(0)  # how far the fake clock is ahead of the real one

    def route(self, state: str) -> None:
        """Route state "monolith": orders fulfilled in-process; "extracted": by the saga."""
        self.state = state

    def fulfilment(self) -> adapters.Fulfilment:
        if self.state == "monolith":
            return adapters.LocalFulfilment()
        return adapters.SagaFulfilment()

    def deliver(self, *, hold: Callable[[Envelope], bool] = lambda envelope: False) -> int:
        """Deliver every unsent outbox row, and what handling them publishes, in order;
        those `hold` picks are kept back (a worker that is down, a parked copy)."""
        delivered = 0
        while True:
            rows = list(OutboxMessage.objects.filter(sent_at__isnull=True).order_by("id"))
            if not rows:
                return delivered
            for row in rows:
                OutboxMessage.objects.filter(pk=row.pk).update(sent_at=timezone.now())
                envelope = Envelope.from_json(row.envelope)
                if hold(envelope):
                    self.held.append(envelope)
                else:
                    self.apply(envelope)
                    delivered += 1

    def apply(self, envelope: Envelope) -> None:
        with transaction.atomic():
            apply_event(envelope)

    def release_held(self) -> None:
        """Deliver what was held back (late), then everything it causes."""
        held, self.held = self.held, []
        for envelope in held:
            self.apply(envelope)
        self.deliver()

    def time_out_sagas(self) -> int:
        """Move the clock past every saga's deadline and run the periodic sweep."""
        latest = OrderSaga.objects.order_by("-deadline").values_list("deadline", flat=True)
        if latest:
            self.clock_ahead += max(latest[0] - timezone.now(), timedelta(0)) + timedelta(seconds=1)
        return saga.sweep()


@pytest.fixture
def saga_bus(monkeypatch: pytest.MonkeyPatch) -> Iterator[SagaBus]:
    """The monolith's event handlers registered (in a registry of this test's own) and
    orders fulfilled as the bus's route state says."""
    monkeypatch.setattr(messaging.handlers, "_handlers", {})
    for module in HANDLER_MODULES:
        importlib.reload(importlib.import_module(module))
    bus = SagaBus()
    monkeypatch.setattr(order_services, "fulfilment", bus.fulfilment)
    real_now = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real_now() + bus.clock_ahead)
    yield bus

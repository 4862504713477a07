"""Commands and their replies: a reply counts only if it answers the command and agrees
with it; a command past its expiry is discarded wherever it is (delivered or parked)."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from contracts.envelope import Envelope
from contracts.events.inventory import ReleaseReservationV1
from messaging import commands, handlers, replies
from messaging.models import ContextOwnership, ParkedCommand
from messaging.tests.commanding import deliver_command
from servicekit import context

COMMAND_ID = uuid.uuid4()


def reply(causation: str) -> Envelope:
    return Envelope(
        type="payments.ChargeCaptured",
        version=1,
        aggregate="payments.charge",
        aggregate_id="c1",
        sequence=2,
        origin="payments",
        causation_id=causation,
        data={},
    )


@pytest.mark.parametrize(
    "command_id, causation, answered, accepted",
    [
        (COMMAND_ID, str(COMMAND_ID), {"amount": Decimal("909.90"), "user_id": 1}, True),
        (COMMAND_ID, "", {"amount": Decimal("909.90"), "user_id": 1}, False),  # from an API call
        (COMMAND_ID, str(uuid.uuid4()), {"amount": Decimal("909.90"), "user_id": 1}, False),
        (None, str(COMMAND_ID), {"amount": Decimal("909.90"), "user_id": 1}, False),  # none sent
        (COMMAND_ID, str(COMMAND_ID), {"amount": Decimal("0.01"), "user_id": 1}, False),
        (COMMAND_ID, str(COMMAND_ID), {"amount": Decimal("909.90"), "user_id": 2}, False),
        (COMMAND_ID, str(COMMAND_ID), {"amount": Decimal("909.90")}, False),  # one missing
    ],
)
def test_a_reply_counts_only_if_it_answers_the_command_and_agrees_with_it(
    command_id, causation, answered, accepted, caplog
):
    asked = {"amount": Decimal("909.90"), "user_id": 1}
    verdict = replies.accept(
        reply(causation), command_id=command_id, asked=asked, answered=answered
    )
    assert verdict is accepted
    assert ("ignored payments.ChargeCaptured" in caplog.text) is not accepted


ran: list[tuple[str, str]] = []


@pytest.fixture
def release_handler():
    @handlers.handles(ReleaseReservationV1)
    @commands.handles_command
    def release(command, envelope):
        def run() -> None:
            ran.append((str(command.order_id), context.causation_id()))

        commands.execute_or_defer("inventory", what="release", done=lambda: False, run=run)

    ran.clear()
    yield
    handlers.unregister(ReleaseReservationV1.TYPE)


def deliver(expires_at: datetime | None) -> Envelope:
    return deliver_command(ReleaseReservationV1(order_id=uuid.uuid4()), expires_at=expires_at)


def soon(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


@pytest.mark.django_db
@pytest.mark.usefixtures("release_handler")
def test_a_command_runs_before_its_expiry_and_is_discarded_after_it(caplog):
    deliver(expires_at=soon(60))
    deliver(expires_at=None)
    assert len(ran) == 2
    late = deliver(expires_at=soon(-1))
    assert len(ran) == 2 and not ParkedCommand.objects.exists()
    assert f"discarded {late.type} {late.id}" in caplog.text


@pytest.mark.django_db
@pytest.mark.usefixtures("release_handler")
def test_a_parked_command_runs_as_caused_by_itself_unless_it_has_expired(monkeypatch):
    ContextOwnership.objects.update_or_create(
        context="inventory", defaults={"owner": "inventory", "state": "replica"}
    )
    lasting = deliver(expires_at=None)
    deliver(expires_at=soon(60))  # expires before it is resumed
    assert ran == [] and ParkedCommand.objects.count() == 2
    ContextOwnership.objects.filter(context="inventory").update(owner="monolith", state="owner")
    real_now = commands.timezone.now
    monkeypatch.setattr(commands.timezone, "now", lambda: real_now() + timedelta(seconds=120))

    assert commands.resume_parked() == 2
    assert ran == [(lasting.data["order_id"], str(lasting.id))]  # the expiring one: dropped
    assert not ParkedCommand.objects.exists()

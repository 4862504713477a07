"""Commands for a context: run by the side that writes it, parked by the other."""

import uuid

import pytest

from contracts.events.inventory import ReleaseReservationV1
from messaging import commands, handlers
from messaging.models import ContextOwnership, ParkedCommand
from messaging.tests.commanding import deliver_command

pytestmark = pytest.mark.django_db(transaction=True)
ran: list[str] = []
finished: set[str] = set()


@pytest.fixture(autouse=True)
def release_handler():
    @handlers.handles(ReleaseReservationV1)
    @commands.handles_command
    def release(command, envelope):
        key = str(command.order_id)

        def run() -> None:
            ran.append(key)
            finished.add(key)

        commands.execute_or_defer(
            "inventory",
            what="release",
            done=lambda: key in finished,
            run=run,
        )

    ran.clear()
    finished.clear()
    yield
    handlers.unregister(ReleaseReservationV1.TYPE)


def deliver(order_id):
    deliver_command(ReleaseReservationV1(order_id=order_id))


def written_by(owner, state):
    ContextOwnership.objects.update_or_create(
        context="inventory", defaults={"owner": owner, "state": state}
    )


def test_the_writer_runs_a_command_at_once():
    order = uuid.uuid4()
    deliver(order)
    assert ran == [str(order)] and not ParkedCommand.objects.exists()


def test_the_other_side_parks_it_until_the_result_has_replicated():
    written_by("inventory", "replica")
    order = uuid.uuid4()
    deliver(order)
    assert ran == [] and ParkedCommand.objects.count() == 1
    assert commands.resume_parked() == 0  # still written elsewhere, not done
    finished.add(str(order))  # the owner's result replicated here
    assert commands.resume_parked() == 1
    assert ran == [] and not ParkedCommand.objects.exists()


def test_a_parked_command_runs_here_once_this_side_writes_the_context():
    written_by("inventory", "replica")
    order = uuid.uuid4()
    deliver(order)
    written_by("monolith", "owner")  # ownership came back before the owner ran it
    assert commands.resume_parked() == 1
    assert ran == [str(order)]

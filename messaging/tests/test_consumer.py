"""The inbox: duplicates, reordering, poison, newer schema versions (in-process)."""

import logging

import pytest

from messaging.consumer import consume_delivery
from messaging.models import AggregateCursor, ConsumeAttempt, DeadLetter, InboxMessage
from messaging.tests.factories import stock_changed
from messaging.tests.ledger.models import Effect

pytestmark = pytest.mark.django_db(transaction=True)


def effects(sku):
    return list(Effect.objects.filter(aggregate_id=sku).values_list("sequence", flat=True))


def test_a_duplicate_delivery_has_no_second_effect(events):
    envelope = stock_changed("DUP", 1)
    first = consume_delivery([envelope.to_dict()], app=events.app)
    again = consume_delivery([envelope.to_dict(), envelope.to_dict()], app=events.app)
    assert [r.outcome for r in first] == ["applied"]
    assert [r.outcome for r in again] == ["duplicate", "duplicate"]
    assert effects("DUP") == [1]
    assert InboxMessage.objects.filter(event_id=envelope.id).count() == 1


def test_events_of_one_aggregate_apply_in_order_whatever_order_they_arrive(events, settings):
    settings.CARVE_EVENTS_GAP_ATTEMPTS = 50
    third, first, second = stock_changed("ORD", 3), stock_changed("ORD", 1), stock_changed("ORD", 2)
    outcomes = consume_delivery([third.to_dict(), first.to_dict()], app=events.app)
    assert [r.outcome for r in outcomes] == ["retry", "applied"]
    consume_delivery([second.to_dict()], app=events.app)
    events.drain(until=lambda: len(effects("ORD")) == 3)  # #3 comes back from its retry
    assert effects("ORD") == [1, 2, 3]
    assert AggregateCursor.objects.get(aggregate_id="ORD").sequence == 3


def test_early_events_wait_per_aggregate_and_go_as_soon_as_their_predecessor_is_applied(
    events, settings
):
    from messaging.models import WaitingEvent

    settings.CARVE_EVENTS_GAP_ATTEMPTS = 3

    # Each successor arrives alone, before its predecessor, and is parked under its
    # aggregate (its retry is on the queue, undrained: nothing here waits for a backoff).
    for sku in ("GAP", "HOLE"):
        for sequence in (4, 2, 3):
            outcomes = consume_delivery([stock_changed(sku, sequence).to_dict()], app=events.app)
            assert [r.outcome for r in outcomes] == ["retry"]
    assert WaitingEvent.objects.filter(aggregate_id="GAP").count() == 3
    # HOLE's gap holds back nobody else ...
    assert [
        r.outcome for r in consume_delivery([stock_changed("FREE", 1).to_dict()], app=events.app)
    ] == ["applied"]
    # ... and GAP's predecessor takes its successors along, in order, there and then.
    outcomes = consume_delivery([stock_changed("GAP", 1).to_dict()], app=events.app)
    assert [r.outcome for r in outcomes] == ["applied"]
    assert effects("GAP") == [1, 2, 3, 4] and effects("HOLE") == [] and effects("FREE") == [1]
    assert AggregateCursor.objects.get(aggregate_id="GAP").sequence == 4
    assert set(WaitingEvent.objects.values_list("aggregate_id", flat=True)) == {"HOLE"}
    assert ConsumeAttempt.objects.count() == 3  # HOLE's, still waiting
    # The retries: GAP's find their events applied; HOLE's run into the gap limit.
    events.drain()
    assert effects("GAP") == [1, 2, 3, 4] and effects("HOLE") == []
    assert sorted(DeadLetter.objects.values_list("aggregate_id", "sequence", "reason")) == [
        ("HOLE", sequence, "out_of_order") for sequence in (2, 3, 4)
    ]
    assert not WaitingEvent.objects.exists() and not ConsumeAttempt.objects.exists()


def test_a_late_predecessor_is_waited_for_up_to_the_gap_limit_then_dead_lettered_out_of_order(
    events, settings
):
    from messaging import deadletters

    settings.CARVE_EVENTS_MAX_ATTEMPTS = 2  # a handler's failures would be dead at 2 ...
    settings.CARVE_EVENTS_GAP_ATTEMPTS = 5  # ... a missing predecessor is waited for longer
    second = stock_changed("LATE", 2)
    assert [r.outcome for r in consume_delivery([second.to_dict()], app=events.app)] == ["retry"]
    events.drain(until=lambda: DeadLetter.objects.exists())
    letter = DeadLetter.objects.get()
    assert (letter.event_id, letter.reason, letter.attempts) == (second.id, "out_of_order", 5)
    assert effects("LATE") == []

    consume_delivery([stock_changed("LATE", 1).to_dict()], app=events.app)  # at last
    assert deadletters.replay(reason="out_of_order", app=events.app) == 1
    events.drain(until=lambda: effects("LATE") == [1, 2])
    assert not ConsumeAttempt.objects.exists()


def test_an_infrastructure_failure_consumes_nothing_and_counts_nothing(
    events, tmp_path, monkeypatch
):
    from messaging.errors import InfrastructureFailure

    monkeypatch.setenv("CARVE_TEST_FAULT_DIR", str(tmp_path))
    (tmp_path / "conflict-BLINK").touch()
    delivery = [stock_changed("STEADY", 1).to_dict(), stock_changed("BLINK", 1).to_dict()]
    with pytest.raises(InfrastructureFailure) as failure:
        consume_delivery(delivery, app=events.app)
    assert "could not serialize access" in str(failure.value)
    assert effects("STEADY") == [] and effects("BLINK") == []  # a fresh one goes back whole
    assert not ConsumeAttempt.objects.exists() and not DeadLetter.objects.exists()

    # A redelivery counts before each try (a worker might die on it) and applies event by
    # event; sent back again with the ids it counted, its next try counts nothing more.
    with pytest.raises(InfrastructureFailure) as failure:
        consume_delivery(delivery, app=events.app, redelivered=True)
    counted = failure.value.counted
    for _ in range(3):
        with pytest.raises(InfrastructureFailure):
            consume_delivery(delivery, app=events.app, counted=counted)
    assert list(ConsumeAttempt.objects.values_list("attempts", "last_try")) == [(1, "")]
    assert not DeadLetter.objects.exists()

    (tmp_path / "conflict-BLINK").unlink()
    outcomes = consume_delivery(delivery, app=events.app, counted=counted)
    assert [r.outcome for r in outcomes] == ["duplicate", "applied"]
    assert effects("STEADY") == [1] and effects("BLINK") == [1]
    assert not ConsumeAttempt.objects.exists() and not DeadLetter.objects.exists()


def test_a_stale_event_is_a_no_op(events):
    consume_delivery(
        [stock_changed("OLD", 1).to_dict(), stock_changed("OLD", 2).to_dict()], app=events.app
    )
    outcome = consume_delivery([stock_changed("OLD", 1).to_dict()], app=events.app)
    assert [r.outcome for r in outcome] == ["stale"]
    assert effects("OLD") == [1, 2]


def test_a_poison_event_is_retried_then_dead_lettered_then_replayed(
    events, settings, tmp_path, monkeypatch
):
    from messaging import deadletters

    settings.CARVE_EVENTS_MAX_ATTEMPTS = 3
    monkeypatch.setenv("CARVE_TEST_FAULT_DIR", str(tmp_path))
    (tmp_path / "poison-BAD").touch()
    healthy, poison = stock_changed("OK", 1), stock_changed("BAD", 1)
    outcomes = consume_delivery([healthy.to_dict(), poison.to_dict()], app=events.app)
    assert [r.outcome for r in outcomes] == ["applied", "failed"]
    events.drain(until=lambda: DeadLetter.objects.exists())
    letter = DeadLetter.objects.get()
    assert (letter.event_id, letter.reason, letter.attempts) == (poison.id, "failed", 3)
    assert "poison pill for BAD" in letter.error
    assert effects("BAD") == [] and effects("OK") == [1]
    assert not ConsumeAttempt.objects.exists()

    (tmp_path / "poison-BAD").unlink()  # the bug is fixed
    assert deadletters.replay(letter_ids=[letter.id], app=events.app) == 1
    events.drain(until=lambda: effects("BAD") == [1])
    letter.refresh_from_db()
    assert letter.replayed_at is not None


def test_an_event_of_a_newer_schema_version_is_parked_not_lost(events, caplog):
    newer = stock_changed("NEW", 1, version=2)
    with caplog.at_level(logging.WARNING, logger="carve.events"):
        outcomes = consume_delivery([newer.to_dict()], app=events.app)
    assert [r.outcome for r in outcomes] == ["parked"]
    letter = DeadLetter.objects.get()
    assert (letter.reason, letter.event_id) == ("unknown_schema_version", newer.id)
    assert "inventory.StockChanged v2" in caplog.text and "knows v[1]" in caplog.text
    assert not InboxMessage.objects.filter(event_id=newer.id).exists()
    assert effects("NEW") == []


def test_a_message_that_is_not_an_envelope_is_dead_lettered(events):
    outcomes = consume_delivery(
        [{"hello": "world"}, stock_changed("FINE", 1).to_dict()], app=events.app
    )
    assert [r.outcome for r in outcomes] == ["applied"]
    assert DeadLetter.objects.get().event_type == "unknown.Unparseable"


def test_an_event_without_a_handler_is_acknowledged_and_recorded(events):
    from contracts.envelope import Envelope

    registered = Envelope(
        type="users.UserRegistered",
        version=1,
        aggregate="users.user",
        aggregate_id="7",
        sequence=1,
        origin="monolith",
        data={"user_id": 7, "username": "u", "email": "u@example.com", "is_staff": False},
    )
    assert [r.outcome for r in consume_delivery([registered.to_dict()], app=events.app)] == [
        "ignored"
    ]
    assert InboxMessage.objects.filter(event_id=registered.id).exists()


def test_a_redelivery_of_an_applied_event_wakes_what_waits_for_it(events):
    from django.db import transaction

    from messaging.inbox import apply_guarded

    second, first = stock_changed("WOKE", 2), stock_changed("WOKE", 1)
    consume_delivery([second.to_dict()], app=events.app)  # parked
    with transaction.atomic():  # a worker applies #1, then dies before waking #2
        assert apply_guarded(first).outcome == "applied"
    outcomes = consume_delivery([first.to_dict()], app=events.app, redelivered=True)
    assert [r.outcome for r in outcomes] == ["duplicate"]
    assert effects("WOKE") == [1, 2]


def test_a_worker_looks_at_its_database_connection_at_most_once_a_second(monkeypatch):
    """Each look makes the next query a health check (a round trip on PostgreSQL): once a
    second, not around every delivery."""
    import django.db

    from messaging import celeryapp

    looks = []
    monkeypatch.setattr(django.db, "close_old_connections", lambda: looks.append(1))
    monkeypatch.setattr(celeryapp, "_tidied_at", -celeryapp.TIDY_EVERY_SECONDS)
    for _ in range(20):
        celeryapp.tidy_connections()
    assert len(looks) == 1
    monkeypatch.setattr(celeryapp, "_tidied_at", celeryapp._tidied_at - 1.01)
    celeryapp.tidy_connections()
    assert len(looks) == 2

"""Dead letters: listing them and sending them back to their consumer after a fix."""

from __future__ import annotations

from celery import Celery
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from contracts.envelope import Envelope
from messaging.celeryapp import CONSUME_TASK, queue_name
from messaging.models import ConsumeAttempt, DeadLetter


def waiting(*, reason: str | None = None) -> QuerySet[DeadLetter]:
    letters = DeadLetter.objects.filter(replayed_at__isnull=True)
    if reason:
        letters = letters.filter(reason=reason)
    return letters.order_by("aggregate", "aggregate_id", "sequence", "id")


def replay(*, letter_ids: list[int] | None = None, reason: str | None = None, app: Celery) -> int:
    """Put dead letters back on this service's queue, oldest per aggregate first.

    `letter_ids=None` replays every waiting letter (of `reason`, if given). Returns how
    many were sent. Each starts again with a fresh attempt count.
    """
    letters = waiting(reason=reason)
    if letter_ids is not None:
        letters = letters.filter(id__in=letter_ids)
    sent = 0
    for letter in letters:
        envelope = Envelope.from_json(letter.envelope)
        with transaction.atomic():
            locked = DeadLetter.objects.select_for_update().get(pk=letter.pk)
            if locked.replayed_at is not None:
                continue
            ConsumeAttempt.objects.filter(
                consumer=letter.consumer, event_id=letter.event_id
            ).delete()
            app.send_task(
                CONSUME_TASK, args=[[envelope.to_dict()]], exchange="", routing_key=queue_name()
            )
            locked.replayed_at = timezone.now()
            locked.save(update_fields=["replayed_at"])
        sent += 1
    return sent

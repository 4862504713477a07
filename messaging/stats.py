"""Backlog, lag and rates of one service's event flow, read from its own tables."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta
from statistics import quantiles
from typing import Any

from django.db.models import Count, Min
from django.utils import timezone

from messaging.models import DeadLetter, InboxMessage, OutboxMessage

SAMPLE = 2000  # recent rows a lag percentile is computed from


@dataclass(frozen=True)
class Lag:
    p50_ms: float | None
    p99_ms: float | None
    samples: int


@dataclass(frozen=True)
class EventStats:
    backlog: int
    oldest_unsent_seconds: float | None
    unroutable: int
    published_last_minute: int
    publish_lag: Lag
    consumed_last_minute: int
    consume_lag: Lag
    dead_letters_waiting: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _lag(pairs: list[tuple[Any, Any]]) -> Lag:
    values = sorted((later - earlier).total_seconds() * 1000 for earlier, later in pairs)
    if not values:
        return Lag(None, None, 0)
    if len(values) == 1:
        return Lag(values[0], values[0], 1)
    cuts = quantiles(values, n=100, method="inclusive")
    return Lag(round(cuts[49], 1), round(cuts[98], 1), len(values))


def event_stats() -> EventStats:
    now = timezone.now()
    minute_ago = now - timedelta(minutes=1)
    unsent = OutboxMessage.objects.filter(sent_at__isnull=True)
    oldest = unsent.aggregate(oldest=Min("created_at"))["oldest"]
    sent_recently = OutboxMessage.objects.filter(sent_at__isnull=False).order_by("-id")[:SAMPLE]
    consumed_recently = InboxMessage.objects.order_by("-id")[:SAMPLE]
    waiting = (
        DeadLetter.objects.filter(replayed_at__isnull=True)
        .values("reason")
        .annotate(count=Count("id"))
    )
    return EventStats(
        backlog=unsent.count(),
        oldest_unsent_seconds=(now - oldest).total_seconds() if oldest else None,
        unroutable=OutboxMessage.objects.filter(unroutable=True).count(),
        published_last_minute=OutboxMessage.objects.filter(sent_at__gte=minute_ago).count(),
        publish_lag=_lag(list(sent_recently.values_list("created_at", "sent_at"))),
        consumed_last_minute=InboxMessage.objects.filter(processed_at__gte=minute_ago).count(),
        consume_lag=_lag(list(consumed_recently.values_list("occurred_at", "processed_at"))),
        dead_letters_waiting={row["reason"]: row["count"] for row in waiting},
    )

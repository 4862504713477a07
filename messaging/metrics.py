"""Backlog, lag and dead letters as Prometheus metrics, read at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.utils import Error as DatabaseError
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from messaging.stats import event_stats


class EventsCollector:
    def describe(self) -> list[Metric]:
        return []  # names are known only at scrape time; keeps registration query-free

    def collect(self) -> Iterator[Metric]:
        try:
            stats = event_stats()
        except DatabaseError:
            return
        yield GaugeMetricFamily(
            "carve_outbox_backlog", "Events written but not yet published", value=stats.backlog
        )
        yield GaugeMetricFamily(
            "carve_outbox_oldest_unsent_seconds",
            "Age of the oldest unpublished event",
            value=stats.oldest_unsent_seconds or 0.0,
        )
        yield GaugeMetricFamily(
            "carve_outbox_unroutable",
            "Events published with no queue bound for them",
            value=stats.unroutable,
        )
        for name, lag, help_text in (
            ("carve_events_publish_lag_seconds", stats.publish_lag, "Written to published"),
            ("carve_events_consume_lag_seconds", stats.consume_lag, "Occurred to applied here"),
        ):
            family = GaugeMetricFamily(name, help_text, labels=["quantile"])
            for quantile, value in (("0.5", lag.p50_ms), ("0.99", lag.p99_ms)):
                if value is not None:
                    family.add_metric([quantile], value / 1000)
            yield family
        letters = GaugeMetricFamily(
            "carve_dead_letters_waiting", "Dead letters not replayed", labels=["reason"]
        )
        for reason, count in stats.dead_letters_waiting.items():
            letters.add_metric([reason], count)
        yield letters

"""The relay: publishes committed outbox rows, in order per aggregate, and marks them sent.

Each round, inside one database transaction, a relay locks half of the outbox partitions
that have unsent rows and that no other relay holds (SELECT ... FOR UPDATE SKIP LOCKED),
takes the oldest unsent rows of those partitions, publishes them (one broker message per
run of same-type events, confirmed as a batch) and marks them sent. It never pages by "id
greater than the last one seen": a row whose transaction commits late is simply still
unsent in the next round. Several relays share the partitions without reordering an
aggregate; on SQLite the write lock serialises them.

After a round that published less than a full batch, the relay lingers a moment before
the next (`linger`, 50 ms by default; `busy_linger`, 25 ms, when the round left partitions
with unsent rows waiting), so that events written meanwhile travel together: one broker
message, one consumer transaction for many events instead of one each. A round that filled
its batch is followed at once; an idle relay wakes on NOTIFY.

Killed after publishing but before committing the marks, the rows stay unsent and are
published again: delivery is at-least-once and the consumers' inbox makes the effect once.
"""

from __future__ import annotations

import json
import logging
import math
import os
import select
import socket
import threading
import time
import uuid
from collections.abc import Callable
from itertools import groupby
from typing import Any, NamedTuple

from celery import Celery
from django.db import close_old_connections, connection, transaction
from django.db.utils import Error as DatabaseError
from django.utils import timezone

from messaging.models import RELAY_PARTITIONS, OutboxMessage, RelayPartition
from messaging.outbox import NOTIFY_CHANNEL
from messaging.publishers import OutgoingMessage, Publisher, connect_publisher
from messaging.sql import marks, table

log = logging.getLogger("carve.relay")
MAX_EVENTS_PER_MESSAGE = 100


def ensure_partitions() -> None:
    RelayPartition.objects.bulk_create(
        [RelayPartition(number=n) for n in range(RELAY_PARTITIONS)], ignore_conflicts=True
    )


class OutboxRow(NamedTuple):
    """What the relay reads of an outbox row."""

    id: int
    routing_key: str
    envelope: str


def batch_into_messages(rows: list[OutboxRow]) -> list[tuple[OutgoingMessage, list[int]]]:
    """Consecutive rows of one routing key share a message, in outbox order."""
    messages = []
    for key, run in groupby(rows, key=lambda row: row.routing_key):
        run_rows = list(run)
        for start in range(0, len(run_rows), MAX_EVENTS_PER_MESSAGE):
            chunk = run_rows[start : start + MAX_EVENTS_PER_MESSAGE]
            message = OutgoingMessage(
                message_id=str(uuid.uuid4()),
                routing_key=key,
                envelopes=[_envelope_dict(row) for row in chunk],
            )
            messages.append((message, [row.id for row in chunk]))
    return messages


def _envelope_dict(row: OutboxRow) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(row.envelope)
    return loaded


def _waiting_partitions(cursor: Any) -> tuple[list[int], int]:
    """Half of the partitions with unsent rows, those waiting longest first (half, so that
    a second relay finds the other half; longest first, so that no row waits long), and
    how many partitions have unsent rows in all."""
    outbox, partitions = table(OutboxMessage), table(RelayPartition)
    cursor.execute(
        f"SELECT p.number, (SELECT o.id FROM {outbox} o WHERE o.partition = p.number "
        f"AND o.sent_at IS NULL ORDER BY o.id LIMIT 1) FROM {partitions} p"
    )
    waiting = sorted((oldest, n) for n, oldest in cursor.fetchall() if oldest is not None)
    return [number for _, number in waiting[: math.ceil(len(waiting) / 2)]], len(waiting)


class Relay:
    def __init__(
        self,
        publisher_factory: Callable[[], Publisher],
        *,
        batch_size: int = 500,
        name: str | None = None,
        linger: float = 0.05,
        busy_linger: float = 0.025,
    ) -> None:
        self.publisher_factory = publisher_factory
        self.batch_size = batch_size
        self.linger = linger
        self.busy_linger = busy_linger
        self.left_waiting = 0  # partitions with unsent rows the last round did not take
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self._publisher: Publisher | None = None
        self.published = 0

    @property
    def publisher(self) -> Publisher:
        if self._publisher is None:
            self._publisher = self.publisher_factory()
        return self._publisher

    def drop_publisher(self) -> None:
        if self._publisher is not None:
            self._publisher.close()
            self._publisher = None

    def run_once(self) -> int:
        """One round; returns how many events it published.

        Its statements are written in SQL: composed with the ORM, they cost the relay
        several times the CPU the database spent on them, once per round.
        """
        outbox, partitions = table(OutboxMessage), table(RelayPartition)
        if connection.vendor == "sqlite":
            # A round takes SQLite's one write lock: look without it first, so that an idle
            # relay (it looks every 50 ms) does not make the service's writers queue.
            with connection.cursor() as cursor:
                if not _waiting_partitions(cursor)[0]:
                    self.left_waiting = 0
                    return 0
        with transaction.atomic(), connection.cursor() as cursor:
            chosen, waiting = _waiting_partitions(cursor)
            self.left_waiting = waiting - len(chosen)
            if not chosen:
                return 0
            skip_locked = connection.features.has_select_for_update_skip_locked
            cursor.execute(
                f"SELECT number FROM {partitions} WHERE number IN ({marks(chosen)})"
                + (" FOR UPDATE SKIP LOCKED" if skip_locked else ""),
                chosen,
            )
            locked = [number for (number,) in cursor.fetchall()]
            if not locked:
                return 0
            cursor.execute(
                f"SELECT id, routing_key, envelope FROM {outbox} WHERE sent_at IS NULL "
                f"AND partition IN ({marks(locked)}) ORDER BY id LIMIT %s",
                [*locked, self.batch_size],
            )
            rows = [OutboxRow(*row) for row in cursor.fetchall()]
            if not rows:
                return 0
            messages = batch_into_messages(rows)
            unroutable_ids = self.publisher.publish([message for message, _ in messages])
            unroutable_rows = [
                row_id
                for message, ids in messages
                if message.message_id in unroutable_ids
                for row_id in ids
            ]
            now = OutboxMessage._meta.get_field("sent_at").get_db_prep_value(
                timezone.now(), connection
            )
            ids = [row.id for row in rows]
            cursor.execute(
                f"UPDATE {outbox} SET sent_at = %s WHERE id IN ({marks(ids)})", [now, *ids]
            )
            if unroutable_rows:
                cursor.execute(
                    f"UPDATE {outbox} SET unroutable = %s WHERE id IN ({marks(unroutable_rows)})",
                    [True, *unroutable_rows],
                )
                # Expected for a type no service subscribes to (yet): not worth a line on every
                # start; `carve events stats`, /metrics and admin count them.
                log.debug("%d event(s) had no queue bound for them", len(unroutable_rows))
            cursor.execute(
                f"UPDATE {partitions} SET last_relay = %s, last_run_at = %s "
                f"WHERE number IN ({marks(locked)})",
                [self.name, now, *locked],
            )
        self.published += len(rows)
        return len(rows)

    def run(self, stop: threading.Event, *, idle_wait: float = 0.05) -> None:
        """Publish until `stop` is set; broker or database outages are waited out."""
        ensure_partitions()
        failures = 0
        listener = _Listener() if connection.vendor == "postgresql" else None
        while not stop.is_set():
            try:
                published = self.run_once()
                failures = 0
            except DatabaseError as exc:
                failures += 1
                log.warning("relay: database unavailable (%s); retrying", exc)
                close_old_connections()
                connection.close()
                published = 0
            except Exception as exc:
                failures += 1
                log.warning(
                    "relay: publishing failed (%s: %s); reconnecting", type(exc).__name__, exc
                )
                self.drop_publisher()
                published = 0
            if failures:
                stop.wait(min(0.1 * 2 ** min(failures, 6), 5.0))
            elif published == 0:
                if listener is None:
                    stop.wait(idle_wait)
                elif listener.listening:
                    listener.wait(idle_wait * 10)
                elif listener.listen():
                    # Look once more before sleeping: a commit between that round and the
                    # LISTEN sent no notification this relay would get.
                    continue
                else:
                    stop.wait(idle_wait * 10)
            if published and listener is not None and listener.listening:
                # A busy relay comes round again by itself: notifications meanwhile would
                # only wake its listening backend once per commit.
                listener.unlisten()
            if 0 < published < self.batch_size:
                # Lingering lets the next events travel together. While other partitions
                # already wait, a shorter one: they pay it on a saga's path, but with none
                # at all a busy relay sends a message per handful of events, and the
                # consumers' per-delivery work halves the throughput (benchmarks/README.md).
                pause = self.busy_linger if self.left_waiting else self.linger
                if pause > 0:
                    stop.wait(pause)
        self.drop_publisher()
        if listener is not None:
            listener.close()


class _Listener:
    """Wakes an idle relay when a transaction that wrote the outbox commits (PostgreSQL).

    It listens only while the relay is idle. Every notifying commit signals each listening
    backend, which wakes up to pass the notification on; a busy relay does not need them.
    """

    def __init__(self) -> None:
        self.conn: Any = None
        self.listening = False

    def listen(self) -> bool:
        """Start listening; False when the database could not be reached."""
        import psycopg

        try:
            if self.conn is None:
                params = connection.get_connection_params()
                params.pop("cursor_factory", None)
                params.pop("context", None)
                self.conn = psycopg.connect(**params, autocommit=True)
            self.conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
            self.listening = True
        except psycopg.Error:
            self.close()  # tried again the next time the relay is idle
        return self.listening

    def unlisten(self) -> None:
        import psycopg

        try:
            self.conn.execute(f"UNLISTEN {NOTIFY_CHANNEL}")
            self.listening = False
        except psycopg.Error:
            self.close()

    def wait(self, timeout: float) -> None:
        if self.conn is None:
            time.sleep(timeout)
            return
        try:
            ready, _, _ = select.select([self.conn.fileno()], [], [], timeout)
            if ready:
                for _ in self.conn.notifies(timeout=0):
                    pass
        except Exception:
            self.close()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        self.listening = False


def relay_for(app: Celery, **options: object) -> Relay:
    return Relay(lambda: connect_publisher(app), **options)  # type: ignore[arg-type]


def serve(batch_size: int, say: Callable[[str], object]) -> None:
    """The relay process (`carve events relay`, `manage.py events_relay`): publish this
    service's outbox, with its periodic jobs beside it, until SIGINT/SIGTERM."""
    from messaging import periodic
    from messaging.runtime import celery_app
    from servicekit.signals import stop_on_signals

    stop = stop_on_signals()
    relay = relay_for(celery_app(), batch_size=batch_size)
    say(f"relay {relay.name}: publishing the outbox (Ctrl-C stops)")
    jobs = periodic.start(stop)
    relay.run(stop)
    jobs.join(timeout=10)
    say(f"relay {relay.name}: stopped after {relay.published} events")


def outbox_backlog() -> int:
    return OutboxMessage.objects.filter(sent_at__isnull=True).count()

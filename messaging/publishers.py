"""Putting a batch of event messages on the broker, and knowing that it got them.

AmqpPublisher (RabbitMQ): publisher confirms for the whole batch at once (a confirm per
message costs ~9x throughput) and `mandatory`, so a message no queue is bound for comes
back instead of vanishing. KombuPublisher: any other kombu transport (the embedded
filesystem broker), where a publish that returns has been written.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from celery import Celery
from kombu import Connection, Exchange
from kombu.serialization import dumps

from messaging.celeryapp import CONSUME_TASK, events_exchange

log = logging.getLogger(__name__)
CONFIRM_TIMEOUT = 10.0


class PublishFailed(Exception):
    pass


@dataclass
class OutgoingMessage:
    """One broker message: a consume task carrying a run of same-routing-key events."""

    message_id: str
    routing_key: str
    envelopes: list[dict[str, Any]] = field(default_factory=list)


class Publisher(Protocol):
    def publish(self, messages: list[OutgoingMessage]) -> set[str]:
        """Publish all or raise; returns ids of messages no queue was bound for."""

    def close(self) -> None: ...


def _task_message(
    app: Celery, message: OutgoingMessage
) -> tuple[dict[str, Any], dict[str, Any], Any, str, str]:
    # argsrepr spelled out: Celery's default is a saferepr() of every envelope, which cost
    # the relay more CPU than encoding them.
    task = app.amqp.as_task_v2(
        message.message_id,
        CONSUME_TASK,
        args=(message.envelopes,),
        argsrepr=f"[{len(message.envelopes)} events]",
    )
    content_type, encoding, body = dumps(task.body, serializer="json")
    properties = dict(task.properties)
    properties.pop("correlation_id", None)
    return task.headers, properties, body, content_type, encoding


class AmqpPublisher:
    def __init__(self, app: Celery, url: str) -> None:
        self.app = app
        self.connection = Connection(url, connect_timeout=5, heartbeat=0)
        self.connection.ensure_connection(max_retries=1)
        channel: Any = self.connection.channel()  # py-amqp's: confirms and returns
        self.channel = channel
        self.exchange = events_exchange()
        self.exchange(channel).declare()
        channel.confirm_select()
        self._next_tag = 1  # delivery tags count from 1 on a confirming channel
        self._nacked: list[int] = []
        self._returned: list[str] = []
        self._pending: set[int] = set()
        channel.events["basic_ack"].add(self._on_ack)
        channel.events["basic_nack"].add(self._on_nack)
        channel.events["basic_return"].add(self._on_return)

    def _settle(self, tag: int, multiple: bool) -> list[int]:
        done = [t for t in self._pending if t <= tag] if multiple else [tag]
        self._pending.difference_update(done)
        return done

    def _on_ack(self, tag: int, multiple: bool) -> None:
        self._settle(tag, multiple)

    def _on_nack(self, tag: int, multiple: bool) -> None:
        self._nacked.extend(self._settle(tag, multiple))

    def _on_return(self, exc: Exception, exchange: str, routing_key: str, message: Any) -> None:
        self._returned.append(message.properties.get("message_id", ""))

    def publish(self, messages: list[OutgoingMessage]) -> set[str]:
        self._returned.clear()
        self._nacked.clear()
        for message in messages:
            headers, properties, body, content_type, encoding = _task_message(self.app, message)
            amqp_message = self.channel.prepare_message(
                body,
                0,
                content_type,
                encoding,
                headers,
                {**properties, "delivery_mode": 2, "message_id": message.message_id},
            )
            self.channel.basic_publish(
                amqp_message,
                exchange=self.exchange.name,
                routing_key=message.routing_key,
                mandatory=True,
            )
            self._pending.add(self._next_tag)
            self._next_tag += 1
        deadline = time.monotonic() + CONFIRM_TIMEOUT
        while self._pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PublishFailed(
                    f"broker confirmed only part of the batch in {CONFIRM_TIMEOUT}s"
                )
            self.connection.drain_events(timeout=remaining)
        if self._nacked:
            raise PublishFailed(f"broker refused {len(self._nacked)} message(s) (nack)")
        return set(self._returned)

    def close(self) -> None:
        try:
            self.connection.release()
        except Exception:
            log.debug("closing the publisher connection failed", exc_info=True)


class KombuPublisher:
    """For virtual transports (the embedded filesystem broker)."""

    def __init__(self, app: Celery, connection: Connection) -> None:
        self.app = app
        self.connection = connection
        self.channel: Any = connection.channel()
        self.exchange: Exchange = events_exchange()
        self.exchange(self.channel).declare()

    def _routable(self, routing_key: str) -> bool:
        table = self.channel.get_table(self.exchange.name)
        exchange_type = self.channel.typeof(self.exchange.name)
        return bool(exchange_type.lookup(table, self.exchange.name, routing_key, None))

    def publish(self, messages: list[OutgoingMessage]) -> set[str]:
        unroutable = set()
        for message in messages:
            if not self._routable(message.routing_key):
                unroutable.add(message.message_id)
                continue
            headers, properties, body, content_type, encoding = _task_message(self.app, message)
            self.channel.basic_publish(
                self.channel.prepare_message(
                    body,
                    0,
                    content_type,
                    encoding,
                    headers,
                    {**properties, "message_id": message.message_id},
                ),
                exchange=self.exchange.name,
                routing_key=message.routing_key,
            )
        return unroutable

    def close(self) -> None:
        try:
            self.channel.close()
            self.connection.release()
        except Exception:
            log.debug("closing the publisher connection failed", exc_info=True)


def connect_publisher(app: Celery, url: str | None = None) -> Publisher:
    """A publisher for the app's broker (or `url`): confirms on AMQP, plain writes otherwise."""
    url = url or app.conf.broker_url
    if url.startswith(("amqp://", "amqps://", "pyamqp://")):
        return AmqpPublisher(app, url)
    return KombuPublisher(app, app.connection_for_write())

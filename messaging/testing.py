"""Test support for anything built on messaging: a private broker namespace per test,
an in-process drain of a service queue, and subprocess workers and relays.

Used by the messaging tests and by the tests of every service that consumes events.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from celery import Celery
from django.conf import settings
from django.db import connection
from kombu import Connection, Consumer, Message

from contracts.envelope import Envelope
from messaging.celeryapp import create_celery_app, events_exchange, service_queue
from messaging.consumer import Result, consume_delivery

REPO = Path(__file__).resolve().parent.parent


def is_amqp(url: str) -> bool:
    return url.startswith(("amqp://", "amqps://", "pyamqp://"))


@dataclass
class EventsEnv:
    """One test's own exchange, queues and (embedded) broker folder."""

    app: Celery
    exchange: str
    queue_prefix: str
    broker_dir: Path
    received: list[Envelope] = field(default_factory=list)

    @property
    def broker_url(self) -> str:
        return str(self.app.conf.broker_url)

    def env(self) -> dict[str, str]:
        """Environment for a subprocess worker or relay of the same service and test."""
        return {
            "CARVE_EVENTS_EXCHANGE": self.exchange,
            "CARVE_EVENTS_QUEUE_PREFIX": self.queue_prefix,
            "CARVE_BROKER_DIR": str(self.broker_dir),
            "CELERY_BROKER_URL": self.broker_url,
        }

    def declare(self) -> None:
        with self.app.connection_for_write() as conn:
            channel = conn.default_channel
            events_exchange()(channel).declare()
            service_queue()(channel).declare()

    def cleanup(self) -> None:
        if is_amqp(self.broker_url):
            with self.app.connection_for_write() as conn:
                channel = conn.default_channel
                service_queue()(channel).delete()
                events_exchange()(channel).delete()
        self.app.close()

    def drain(
        self,
        *,
        until: Callable[[], bool] | None = None,
        timeout: float = 20.0,
        idle: float = 0.5,
    ) -> list[Result]:
        """Apply what is on this service's queue in-process (no worker, ETAs ignored).

        Stops when `until()` holds, or (without `until`) once the queue stays empty for
        `idle` seconds; raises TimeoutError past `timeout`.
        """
        results: list[Result] = []

        def on_message(body: Any, message: Message) -> None:
            args = body[0] if isinstance(body, (list, tuple)) else body["args"]
            kwargs = body[1] if isinstance(body, (list, tuple)) else body.get("kwargs", {})
            envelopes = args[0]
            self.received.extend(Envelope.from_dict(e) for e in envelopes)
            results.extend(
                consume_delivery(
                    envelopes,
                    app=self.app,
                    redelivered=message.delivery_info.get("redelivered", False),
                    counted=kwargs.get("counted") or (),
                )
            )
            message.ack()

        deadline = time.monotonic() + timeout
        quiet_since = time.monotonic()
        connection = Connection(
            self.broker_url,
            transport=self.app.conf.broker_transport,
            transport_options=self.app.conf.broker_transport_options,
        )
        with (
            connection as conn,
            Consumer(conn, queues=[service_queue()], callbacks=[on_message], accept=["json"]),
        ):
            while True:
                if until is not None and until():
                    return results
                if until is None and time.monotonic() - quiet_since > idle:
                    return results
                if time.monotonic() > deadline:
                    raise TimeoutError(f"drain: condition not met in {timeout}s")
                try:
                    conn.drain_events(timeout=0.1)
                    quiet_since = time.monotonic()
                except TimeoutError:
                    pass
                except OSError:  # socket.timeout is an OSError on the AMQP transport
                    pass


@contextmanager
def events_env(tmp_path: Path) -> Iterator[EventsEnv]:
    """Point this process's messaging settings at a private namespace; yields it."""
    token = uuid.uuid4().hex[:10]
    saved = {
        name: getattr(settings, name)
        for name in ("CARVE_EVENTS_EXCHANGE", "CARVE_EVENTS_QUEUE_PREFIX", "CARVE_BROKER_DIR")
    }
    settings.CARVE_EVENTS_EXCHANGE = f"carve.test.{token}"
    settings.CARVE_EVENTS_QUEUE_PREFIX = f"carve.test.{token}."
    settings.CARVE_BROKER_DIR = tmp_path / "broker"
    from messaging import runtime

    env = EventsEnv(
        app=create_celery_app(),
        exchange=settings.CARVE_EVENTS_EXCHANGE,
        queue_prefix=settings.CARVE_EVENTS_QUEUE_PREFIX,
        broker_dir=settings.CARVE_BROKER_DIR,
    )
    runtime.push_app(env.app)
    try:
        env.declare()
        yield env
    finally:
        runtime.pop_app()
        env.cleanup()
        for name, value in saved.items():
            setattr(settings, name, value)


def database_url(*, through: FaultProxy | None = None) -> str:
    """The URL of the database this test process uses (the test database), reached
    directly or `through` a FaultProxy in front of its server (PostgreSQL only)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        if through is not None:
            raise ValueError("a FaultProxy cuts a database server; SQLite is a file")
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    if through is not None:
        host, port = "127.0.0.1", through.port
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


def database_server() -> tuple[str, int]:
    """(host, port) of the test database's server, for a FaultProxy in front of it."""
    db = connection.settings_dict
    return db.get("HOST") or "127.0.0.1", int(db.get("PORT") or 5432)


def service_process(
    args: list[str],
    *,
    env: dict[str, str],
    log_path: Path,
    settings_module: str,
    database: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start a worker or relay of this service against the test database (or `database`,
    e.g. the test database through a FaultProxy) and broker."""
    full_env = {
        **os.environ,
        **env,
        "DATABASE_URL": database or database_url(),
        "DJANGO_SETTINGS_MODULE": settings_module,
        "PYTHONUNBUFFERED": "1",
    }
    with log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            args,
            cwd=REPO,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def celery_worker_args(app_module: str, *, concurrency: int = 1) -> list[str]:
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        app_module,
        "worker",
        "--loglevel=INFO",
        f"--concurrency={concurrency}",
        "--pool=prefork",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]


def wait_until(condition: Callable[[], bool], *, timeout: float, message: str) -> None:
    """Poll `condition` until it holds; fail with `message` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s: {message}")
        time.sleep(0.05)


class FaultProxy:
    """A TCP proxy on loopback between the code and a server, that a test can cut.

    `cut()` drops every open connection and refuses new ones (the server looks down);
    `partition()` keeps connections open but passes no byte either way, and new ones are
    accepted and left hanging (the network swallows traffic); `restore()` lets
    connections through again. The real server is never touched.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        import socket
        import threading

        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._cut = threading.Event()
        self._closed = threading.Event()
        self._flowing = threading.Event()
        self._flowing.set()
        self._hanging: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._cut.is_set():
                client.close()
                continue
            if not self._flowing.is_set():
                with self._lock:
                    self._hanging.append(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update({client, upstream})
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: Any, sink: Any) -> None:
        try:
            while chunk := source.recv(65536):
                while not self._flowing.wait(0.05):  # partitioned: held, as TCP would
                    if self._closed.is_set() or self._cut.is_set():
                        return
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.close()
                except OSError:
                    pass

    def cut(self) -> None:
        import socket

        self._cut.set()
        with self._lock:
            for sock in self._open:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                    sock.close()
                except OSError:
                    pass
            self._open.clear()

    def partition(self) -> None:
        self._flowing.clear()

    def restore(self) -> None:
        self._cut.clear()
        with self._lock:
            hanging, self._hanging = self._hanging, []
        for sock in hanging:  # their connect "timed out": the clients gave up long ago
            try:
                sock.close()
            except OSError:
                pass
        self._flowing.set()

    def close(self) -> None:
        self._closed.set()
        self.cut()
        self._listener.close()

"""Store fixtures: every conformance test runs on the file store, and in the real pass
(CARVE_TEST_REAL=1) on Redis and PostgreSQL too, failing if they are unreachable."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import pytest

from routetable import RouteStore, open_store

REDIS_URL = os.environ.get("CARVE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_URL = os.environ.get("CARVE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def require_server(host: str, port: int, what: str) -> None:
    """Fail at once, naming the server, when it does not answer."""
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError as exc:
        pytest.fail(f"{what} at {host}:{port} is unreachable: {exc}")


def _redis_url() -> Iterator[str]:
    require_server("127.0.0.1", 6379, "Redis")
    prefix = f"carve:test:{uuid.uuid4().hex}:"
    yield f"{REDIS_URL}?prefix={prefix}"
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def _pg_url() -> Iterator[str]:
    require_server("127.0.0.1", 5432, "PostgreSQL")
    schema = f"carve_test_{uuid.uuid4().hex}"
    yield f"{PG_URL}?schema={schema}"
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(
    params=[
        "file",
        pytest.param("redis", marks=pytest.mark.real),
        pytest.param("postgres", marks=pytest.mark.real),
    ]
)
def store_url(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> Iterator[str]:
    """A URL naming an empty, private route table on each backend."""
    if request.param == "file":
        yield f"file:{tmp_path}/routes.json"
    elif request.param == "redis":
        yield from _redis_url()
    else:
        yield from _pg_url()


@pytest.fixture
def store(store_url: str) -> Iterator[RouteStore]:
    s = open_store(store_url)
    yield s
    s.close()

"""A proxy started while its PostgreSQL route store is down (issue 15, #4). It sits here,
not in proxy/tests, because it cuts PostgreSQL with messaging.testing.FaultProxy and the
proxy package imports no other part."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import psycopg
import pytest

from messaging.testing import FaultProxy
from proxy.app import create_app
from proxy.tests.conftest import ProxyTestServer, proxy_config
from routetable import open_store
from routetable.tests.conftest import PG_URL


@pytest.mark.real
async def test_a_proxy_starts_while_postgresql_is_down_and_routes_once_it_is_back(
    aiohttp_client: Any,
) -> None:
    """Opening the store does no I/O (issue 15, #4): the proxy starts, is not ready with
    no table at all, and is ready within 1 s of PostgreSQL answering."""
    cut = FaultProxy("127.0.0.1", 5432)
    cut.cut()
    schema = f"carve_test_{uuid.uuid4().hex}"
    url = f"postgresql://postgres@127.0.0.1:{cut.port}/postgres?schema={schema}"
    nowhere = "http://127.0.0.1:9"  # readiness asks no upstream
    config = proxy_config({name: nowhere for name in ("monolith", "payments", "inventory")})
    try:
        app = create_app(config, open_store(url, timeout=0.5))
        server = ProxyTestServer(app, host="127.0.0.1")
        client = await aiohttp_client(server)
        response = await client.get("/readyz")
        assert response.status == 503
        assert "no route table" in (await response.json())["problems"][0]
        assert (await client.get("/healthz")).status == 200
        cut.restore()
        deadline = time.monotonic() + 1.0
        while (await client.get("/readyz")).status != 200:
            assert time.monotonic() < deadline, "not ready within 1 s of PostgreSQL coming back"
            await asyncio.sleep(0.02)
    finally:
        cut.close()
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

"""The private deployment of `carve parity stack` stays private whatever the shell says."""

from __future__ import annotations

from pathlib import Path

import pytest

from parity.stackrun import private_config


def test_a_private_deployment_ignores_shared_servers_named_in_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
    monkeypatch.setenv("PAYMENTS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/shared")
    monkeypatch.setenv("CARVE_ROUTES_URL", "redis://127.0.0.1:6379/0")
    config = private_config(tmp_path)
    for service in ("monolith", "payments", "inventory", None):
        env = config.env_for(service)
        assert env["CELERY_BROKER_URL"] == "filesystem://"
        assert env["CARVE_BROKER_DIR"] == str(tmp_path / "broker")
        assert env["CARVE_VAR_DIR"] == str(tmp_path)
        assert not env.get("DATABASE_URL") and not env["PAYMENTS_DATABASE_URL"]
        assert not env["CARVE_ROUTES_URL"]
        assert env["DEBUG"] == "0"
    ports = config.ports
    assert len({ports.monolith, ports.payments, ports.inventory, ports.proxy}) == 4
    assert len(config.admin_token) >= 16

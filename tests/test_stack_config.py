"""The proxy config a stack writes: its ports, and timeouts that let a handover finish."""

from __future__ import annotations

import tomllib

from carve.stack import Ports, StackConfig, proxy_config
from proxy.config import load_config


def written(tmp_path, **env: str) -> dict:
    config = StackConfig(var_dir=tmp_path, ports=Ports(18000, 18001, 18002, 18080), extra_env=env)
    path = proxy_config(config)
    load_config(path)  # the proxy accepts it
    return tomllib.loads(path.read_text())


def test_the_proxy_points_at_the_stacks_ports(tmp_path):
    raw = written(tmp_path)
    assert raw["proxy"]["listen"] == "127.0.0.1:18080"
    # links the services build name the proxy's own address, never a client's Host
    assert raw["proxy"]["public_hosts"] == ["127.0.0.1:18080", "localhost:18080"]
    assert {name: u["url"] for name, u in raw["upstreams"].items()} == {
        "monolith": "http://127.0.0.1:18000",
        "payments": "http://127.0.0.1:18001",
        "inventory": "http://127.0.0.1:18002",
    }


def test_the_proxy_holds_a_request_longer_than_a_write_waits_for_a_handover(tmp_path):
    default = written(tmp_path)["upstreams"]
    assert default["payments"]["total_timeout"] == 30  # 10 s of handover wait and 5: kept
    assert default["payments"]["first_byte_timeout"] == 10  # no side holds a request long
    long_wait = written(tmp_path, CARVE_HANDOVER_WAIT_SECONDS="45")["upstreams"]
    for upstream in long_wait.values():
        assert upstream["total_timeout"] >= 50
        assert upstream["first_byte_timeout"] <= 30


def test_every_process_gets_the_local_public_key_once_it_exists(tmp_path, monkeypatch):
    monkeypatch.delenv("CARVE_AUTH_PUBLIC_KEYS", raising=False)
    config = StackConfig(var_dir=tmp_path)
    assert "CARVE_AUTH_PUBLIC_KEYS" not in config.env_for(None)
    (tmp_path / "auth").mkdir()
    (tmp_path / "auth" / "public.pem").write_text("-----BEGIN PUBLIC KEY-----\n...")
    for service in (None, "monolith", "payments"):
        assert config.env_for(service)["CARVE_AUTH_PUBLIC_KEYS"].startswith("-----BEGIN PUBLIC")
    given = StackConfig(var_dir=tmp_path, extra_env={"CARVE_AUTH_PUBLIC_KEYS": "mine"})
    assert given.env_for(None)["CARVE_AUTH_PUBLIC_KEYS"] == "mine"


def test_the_services_believe_x_forwarded_for_only_from_the_loopback_proxy(tmp_path, monkeypatch):
    monkeypatch.delenv("CARVE_TRUSTED_PROXIES", raising=False)
    assert StackConfig(var_dir=tmp_path).env_for("monolith")["CARVE_TRUSTED_PROXIES"] == (
        "127.0.0.1,::1"
    )
    given = StackConfig(var_dir=tmp_path, extra_env={"CARVE_TRUSTED_PROXIES": "10.0.0.5"})
    assert given.env_for("payments")["CARVE_TRUSTED_PROXIES"] == "10.0.0.5"

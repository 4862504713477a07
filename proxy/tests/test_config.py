"""Loading the config: TOML and YAML, and clear errors for every mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.config import ConfigError, default_config, load_config
from routetable import Mode

EXAMPLE = Path(__file__).parent.parent / "example.toml"


def test_the_example_config_loads() -> None:
    config = load_config(EXAMPLE)
    assert config.upstreams["payments"].connect_timeout == 1.0
    assert str(config.upstreams["inventory"].url) == "http://127.0.0.1:8002"
    assert [(r.name, r.prefix, r.service) for r in config.routes] == [
        ("payments", "/api/payments/", "payments"),
        ("inventory", "/api/inventory/", "inventory"),
    ]
    assert (config.host, config.port) == ("127.0.0.1", 8080)


def test_yaml_works_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARVE_ADMIN_TOKEN", "from-the-environment-0123")
    path = tmp_path / "proxy.yaml"
    path.write_text(
        "proxy:\n  listen: 0.0.0.0:9090\n"
        "upstreams:\n  monolith: {url: 'http://127.0.0.1:8000'}\n"
        "  orders: {url: 'http://127.0.0.1:8003', max_concurrency: 5}\n"
        "routes:\n  - {name: cancel, template: '/api/orders/{id}/cancel/', service: orders,"
        " methods: [post], state: canary 5}\n"
    )
    config = load_config(path)
    assert (config.host, config.port) == ("0.0.0.0", 9090)
    assert config.admin_token == "from-the-environment-0123"
    route = config.routes[0]
    assert route.methods == frozenset({"POST"})
    assert (route.state.mode, route.state.percent) == (Mode.CANARY, 5)


def test_defaults_send_everything_to_the_monolith(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CARVE_ADMIN_TOKEN", raising=False)
    config = default_config()
    assert list(config.upstreams) == ["monolith"] and config.routes == ()
    assert config.admin_token is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[proxy]\nlisten = ':1'\n[upstreams.monolith]\nurl='http://h'\ntimout = 3\n",
            "unknown key",
        ),
        ("[upstreams.monolith]\nurl = 'ftp://h'\n", "needs url"),
        ("[upstreams.monolith]\nurl = 'http://h/api'\n", "no path"),
        ("[upstreams.x]\nurl = 'http://h'\n", "default upstream 'monolith' is not defined"),
        (
            "[upstreams.monolith]\nurl = 'http://h'\n[[routes]]\nname = 'p'\nprefix = '/p/'\n"
            "service = 'payments'\n",
            "unknown upstream 'payments'",
        ),
        (
            "[upstreams.monolith]\nurl = 'http://h'\n[[routes]]\nname = 'p'\nprefix = '/a//p/'\n"
            "service = 'monolith'\n",
            "canonical form: '/a/p/'",
        ),
        (
            "[upstreams.monolith]\nurl = 'http://h'\n[[routes]]\nname = 'p'\nprefix = '/a%2Fp/'\n"
            "service = 'monolith'\n",
            "not a canonical path",
        ),
        (
            "[upstreams.monolith]\nurl = 'http://h'\n[[routes]]\nprefix = '/p/'\n"
            "service = 'monolith'\n",
            "needs a name",
        ),
        (
            "[upstreams.monolith]\nurl = 'http://h'\n[[routes]]\nname = 'p'\n"
            "service = 'monolith'\n",
            "exactly one of prefix or template",
        ),
        (
            "[upstreams.monolith]\nurl = 'http://h'\n[[routes]]\nname = 'p'\nprefix = '/p/'\n"
            "service = 'monolith'\nstate = 'canary'\n",
            "whole percent",
        ),
        ("[proxy]\nadmin_token = 'short'\n[upstreams.monolith]\nurl = 'http://h'\n", "at least 16"),
        ("[proxy]\nadmin_tokens_file = 3\n[upstreams.monolith]\nurl = 'http://h'\n", "a string"),
        ("[upstreams.monolith\n", "does not parse"),
        ("[tls]\n[upstreams.monolith]\nurl = 'http://h'\n", "unknown section"),
        ("[upstreams.monolith]\nurl = 'http://h'\nconnect_timeout = '2s'\n", "must be a number"),
        ("[upstreams.monolith]\nurl = 'http://h'\nretries = 1.5\n", "must be a whole number"),
        ("[shadow]\nignore = '$.a'\n[upstreams.monolith]\nurl = 'http://h'\n", "must be a list"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "proxy.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_a_missing_file_or_unknown_format_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "nope.toml")
    (tmp_path / "proxy.ini").write_text("")
    with pytest.raises(ConfigError, match="toml, .yaml"):
        load_config(tmp_path / "proxy.ini")

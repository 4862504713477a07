"""The proxy's configuration: TOML or YAML, validated into frozen dataclasses.

Unknown keys are errors (a typo must not silently fall back to a default). Every error
names the file and the key. See proxy/README.md for the format.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yarl import URL

from proxy.paths import BadPath, canonical_path
from routetable import RouteState

MIN_TOKEN_LENGTH = 16
_ROUTE_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


class ConfigError(Exception):
    """The configuration is invalid; the message says where and what to change."""


@dataclass(frozen=True)
class UpstreamConfig:
    name: str
    url: URL
    connect_timeout: float = 2.0
    first_byte_timeout: float = 30.0
    total_timeout: float = 60.0
    max_concurrency: int = 200  # the bulkhead: requests in flight to this upstream at most
    retries: int = 2  # extra attempts, only where a retry is safe
    breaker_failures: int = 5  # consecutive failures that open the circuit
    breaker_reset_seconds: float = 5.0  # how long it stays open before one probe
    # An idle keep-alive connection is reused for this long at most: keep it under the
    # upstream's own keep-alive (gunicorn's --keep-alive is 2 s unless told), or a request
    # may go out on a connection the server is closing and fail with 502.
    idle_seconds: float = 1.5


@dataclass(frozen=True)
class RouteConfig:
    name: str
    service: str
    prefix: str | None = None
    template: str | None = None
    methods: frozenset[str] | None = None  # None: every method
    state: RouteState = RouteState()  # until the route table says otherwise
    ignore: tuple[str, ...] = ()  # shadow compare ignore rules for this route


@dataclass(frozen=True)
class ShadowConfig:
    sample_rate: float = 1.0
    max_body_bytes: int = 1 << 20
    max_concurrency: int = 16
    timeout: float = 5.0
    baseline_samples: int = 20  # A/A comparisons per route that learn the noisy fields
    compare_headers: tuple[str, ...] = ("content-type", "location", "www-authenticate")
    ignore: tuple[str, ...] = ()
    keep_mismatches: int = 200
    # A difference is checked again after this long: the service's copy is kept in sync by
    # events, so an answer can lag the monolith's briefly. Only a lasting one is a mismatch.
    settle_seconds: float = 1.0


@dataclass(frozen=True)
class ProxyConfig:
    upstreams: Mapping[str, UpstreamConfig]
    routes: tuple[RouteConfig, ...] = ()
    host: str = "127.0.0.1"
    port: int = 8080
    default_upstream: str = "monolith"
    admin_token: str | None = None  # never expires: what `carve routes` sends
    # Tokens with an expiry, one a line (`TOKEN NOT_AFTER NAME`), read again when the file
    # changes: `carve proxy-token` writes them (proxy/access.py).
    admin_tokens_file: str | None = None
    routes_url: str | None = None
    auth_key: str | None = None  # CARVE_AUTH_PUBLIC_KEYS (PEM): verifies tokens for the canary
    max_body_bytes: int = 100 << 20
    drain_seconds: float = 30.0
    retry_budget_ratio: float = 0.2  # retries may add at most this share of requests...
    retry_budget_min_per_second: float = 5.0  # ...plus this many per second
    cohort_cookie: str = "carve_cohort"
    # Per worker: connections open at most (0: half the open-file limit, the rest being
    # for upstream connections); beyond that a new client gets 503 and is closed.
    max_connections: int = 0
    head_seconds: float = 10.0  # a request head must be complete this long after it began
    # The names clients reach the proxy by (`Host`, with a port if not 80): X-Forwarded-Host
    # and a rewritten Location use the client's Host only when it is one of these, else
    # the first; none configured: no X-Forwarded-Host, and a relative Location.
    public_hosts: tuple[str, ...] = ()
    shadow: ShadowConfig = field(default_factory=ShadowConfig)

    def route(self, name: str) -> RouteConfig | None:
        return next((r for r in self.routes if r.name == name), None)


def default_config() -> ProxyConfig:
    """Everything to the monolith on :8000; what `carve proxy` runs without --config."""
    return finish({"upstreams": {"monolith": {"url": "http://127.0.0.1:8000"}}}, "defaults")


def load_config(path: str | os.PathLike[str]) -> ProxyConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text) or {}
        else:
            raise ConfigError(f"{path}: use a .toml, .yaml or .yml file")
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path} does not parse: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a table/mapping")
    return finish(data, str(path))


def finish(data: Mapping[str, Any], where: str) -> ProxyConfig:
    """Validate parsed data; environment variables fill the secrets."""
    data = dict(data)
    proxy = _section(data.pop("proxy", {}), f"{where} [proxy]")
    upstreams = {
        name: _upstream(name, _section(raw, f"{where} [upstreams.{name}]"), where)
        for name, raw in _section(data.pop("upstreams", {}), f"{where} [upstreams]").items()
    }
    routes = tuple(_route(raw, where) for raw in data.pop("routes", []))
    shadow = _build(ShadowConfig, _section(data.pop("shadow", {}), f"{where} [shadow]"), where)
    if data:
        raise ConfigError(f"{where}: unknown section(s) {sorted(data)}")

    token_env = proxy.pop("admin_token_env", "CARVE_ADMIN_TOKEN")
    proxy.setdefault("admin_token", os.environ.get(token_env) or None)
    proxy.setdefault("admin_tokens_file", os.environ.get("CARVE_ADMIN_TOKENS_FILE") or None)
    proxy.setdefault("auth_key", os.environ.get("CARVE_AUTH_PUBLIC_KEYS") or None)
    proxy.setdefault("routes_url", os.environ.get("CARVE_ROUTES_URL") or None)
    if "listen" in proxy:
        host, _, port = str(proxy.pop("listen")).rpartition(":")
        proxy["host"], proxy["port"] = host.strip("[]") or "0.0.0.0", int(port)
    config = _build(ProxyConfig, {**proxy, "upstreams": upstreams, "routes": routes}, where)
    hosts = tuple(str(h).lower() for h in config.public_hosts)
    config = dataclasses.replace(config, shadow=shadow, public_hosts=hosts)
    _check(config, where)
    return config


def _check(config: ProxyConfig, where: str) -> None:
    if config.default_upstream not in config.upstreams:
        raise ConfigError(
            f"{where}: the default upstream {config.default_upstream!r} is not "
            f"defined; add [upstreams.{config.default_upstream}] with a url"
        )
    names = [r.name for r in config.routes]
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: route names must be unique, got {names}")
    for route in config.routes:
        if route.service not in config.upstreams:
            raise ConfigError(
                f"{where}: route {route.name!r} targets unknown upstream "
                f"{route.service!r}; known: {sorted(config.upstreams)}"
            )
    for key in ("admin_token", "admin_tokens_file"):
        if not isinstance(getattr(config, key), str | None):
            raise ConfigError(f"{where}: {key} must be a string")
    if config.admin_token is not None and len(config.admin_token) < MIN_TOKEN_LENGTH:
        raise ConfigError(
            f"{where}: the admin token must have at least {MIN_TOKEN_LENGTH} "
            "characters; generate one with: python -c "
            "'import secrets; print(secrets.token_urlsafe(32))'"
        )


def _upstream(name: str, raw: dict[str, Any], where: str) -> UpstreamConfig:
    url = URL(str(raw.pop("url", "")))
    if url.scheme not in ("http", "https") or not url.host or url.path not in ("", "/"):
        raise ConfigError(
            f"{where}: upstream {name!r} needs url = 'http://HOST:PORT' (no path, no query)"
        )
    return _build(UpstreamConfig, {**raw, "name": name, "url": url.with_path("")}, where)


def _route(raw: Any, where: str) -> RouteConfig:
    raw = _section(raw, f"{where} [[routes]]")
    name = str(raw.get("name", ""))
    if not _ROUTE_NAME.fullmatch(name):
        raise ConfigError(
            f"{where}: every route needs a name of letters, digits, '-', '_' or "
            f"'.' (used by `carve routes`), got {name!r}"
        )
    here = f"{where} route {name!r}"
    if ("prefix" in raw) == ("template" in raw):
        raise ConfigError(f"{here}: give exactly one of prefix or template")
    for key in ("prefix", "template"):
        if key in raw:
            _check_path(raw[key], key, here)
    if "methods" in raw:
        raw["methods"] = frozenset(m.upper() for m in raw["methods"])
    try:
        raw["state"] = RouteState.parse(str(raw.get("state", "monolith")))
    except ValueError as exc:
        raise ConfigError(f"{here}: {exc}") from None
    raw["ignore"] = tuple(raw.get("ignore", ()))
    return _build(RouteConfig, {**raw, "name": name}, here)


def _check_path(path: str, key: str, where: str) -> None:
    probe = path.replace("{", "x").replace("}", "x") if key == "template" else path
    try:
        canonical = canonical_path(probe)
    except BadPath as exc:
        raise ConfigError(f"{where}: {key} {path!r} is not a canonical path: {exc}") from None
    if canonical != probe:
        raise ConfigError(f"{where}: write {key} {path!r} in canonical form: {canonical!r}")


def _section(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table/mapping")
    return dict(raw)


_KINDS: dict[type, tuple[tuple[type, ...], str]] = {
    float: ((int, float), "a number"),
    int: ((int,), "a whole number"),
    str: ((str,), "a string"),
    tuple: ((list, tuple), "a list"),
}


def _build(cls: type[Any], values: dict[str, Any], where: str) -> Any:
    """`cls(**values)`, refusing unknown keys and values of the wrong kind (the kind is
    the default's: a key whose default is 2.0 takes a number)."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known: {sorted(fields)}")
    for key, value in values.items():
        default = fields[key].default
        kind = _KINDS.get(type(default)) if default is not dataclasses.MISSING else None
        if kind is not None and (not isinstance(value, kind[0]) or isinstance(value, bool)):
            raise ConfigError(f"{where}: {key} must be {kind[1]}, not {value!r}")
        if isinstance(value, list):
            values[key] = tuple(value)
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None

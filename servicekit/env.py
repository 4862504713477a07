"""12-factor settings: read from the environment, safe defaults for local use, and a
clear refusal to start in production with unsafe values."""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

REPO_ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET_PREFIX = "carve-insecure-dev-"
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use 1/0, true/false, yes/no")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_networks(name: str, default: list[str]) -> list[str]:
    """A comma-separated list of IP addresses or CIDR networks."""
    items = env_list(name, default)
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: {item!r} is not an IP address or network (e.g. 10.0.0.5, 10.0.0.0/24)"
            ) from None
    return items


RATE = re.compile(r"^\d+/(s|sec|second|m|min|minute|h|hour|d|day)$")


def env_rate(name: str, default: str) -> str:
    """A DRF throttle rate, "<number>/<second|minute|hour|day>"."""
    value = env_str(name, default).strip()
    if not RATE.match(value):
        raise ImproperlyConfigured(f"{name}={value!r} is not a rate; write e.g. 10/min or 100/hour")
    return value


def cache(url_variable: str = "CARVE_CACHE_URL") -> dict[str, Any]:
    """CACHES['default'] (throttle counts): Redis from a redis:// URL, else files under var/,
    shared by every process of this host."""
    url = env_str(url_variable)
    if url.startswith(("redis://", "rediss://")):
        return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
    if url:
        raise ImproperlyConfigured(f"{url_variable}={url!r}: use a redis:// URL or leave it unset")
    return {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(var_dir() / "cache"),
    }


def is_production() -> bool:
    mode = env_str("CARVE_ENV", "local").strip().lower()
    if mode not in {"local", "production"}:
        raise ImproperlyConfigured(f"CARVE_ENV={mode!r}: use 'local' (default) or 'production'")
    return mode == "production"


def var_dir() -> Path:
    """Where embedded-mode state lives (SQLite files, the filesystem broker, route table)."""
    path = Path(env_str("CARVE_VAR_DIR", str(REPO_ROOT / "var")))
    path.mkdir(parents=True, exist_ok=True)
    return path


def secret(name: str, *, service: str) -> str:
    """A secret from the environment; a labelled development value in local mode only."""
    value = os.environ.get(name, "")
    if is_production():
        problem = None
        if not value:
            problem = "is not set"
        elif value.startswith(DEV_SECRET_PREFIX) or value.startswith("django-insecure"):
            problem = "is a development value"
        elif len(value) < 50 or len(set(value)) < 5:
            problem = "is too weak (use at least 50 random characters)"
        if problem:
            raise ImproperlyConfigured(
                f"refusing to start in production: {name} {problem}. "
                f'Generate one with: python -c "import secrets; print(secrets.token_urlsafe(64))"'
            )
        return value
    return value or f"{DEV_SECRET_PREFIX}{service}-{name.lower()}"


def allowed_hosts() -> list[str]:
    hosts = env_list("ALLOWED_HOSTS", [])
    if is_production() and not hosts:
        raise ImproperlyConfigured("refusing to start in production: ALLOWED_HOSTS is not set")
    return hosts or ["localhost", "127.0.0.1", "[::1]", "testserver"]


def database(default_sqlite_name: str, *, url_variable: str = "DATABASE_URL") -> dict[str, Any]:
    """DATABASES['default'] from a URL; a SQLite file under var/ when none is given."""
    url = env_str(url_variable)
    if not url:
        url = f"sqlite:///{var_dir() / default_sqlite_name}"
    try:
        config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60))
    except Exception as exc:  # dj_database_url raises bare ValueError/KeyError
        raise ImproperlyConfigured(f"{url_variable} is not a usable database URL: {exc}") from None
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets readers run beside the writer; IMMEDIATE takes the write lock up front so
        # two writers queue instead of failing to upgrade a read lock; servicekit.sqlite3
        # makes them queue fairly (its docstring says why).
        # Connections are kept (CONN_MAX_AGE, as for PostgreSQL): opening one per event
        # delivery (the pragmas, the lock file) and closing it after took 7.5 % of the
        # embedded monolith consumer's time in the flip test (py-spy).
        config["ENGINE"] = "servicekit.sqlite3"
        config["OPTIONS"] = {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    else:
        config.setdefault("OPTIONS", {})
        config["CONN_HEALTH_CHECKS"] = True
    if config["ENGINE"] == "django.db.backends.postgresql":
        config["OPTIONS"].update(postgresql_options())
    return config


def postgresql_options() -> dict[str, Any]:
    """Values bound by the server, and statements a connection runs often prepared there
    (psycopg prepares one on its CARVE_DB_PREPARE_THRESHOLD-th run; 0 turns that off, for
    a connection pooler that cannot keep prepared statements, such as PgBouncer before
    1.21 in transaction mode). Parsing and planning the same few INSERTs for every event
    cost PostgreSQL more CPU than running them (benchmarks/README.md, events)."""
    threshold = env_int("CARVE_DB_PREPARE_THRESHOLD", 5)
    if threshold < 0:
        raise ImproperlyConfigured("CARVE_DB_PREPARE_THRESHOLD must be 0 (off) or more")
    return {"server_side_binding": True, "prepare_threshold": threshold or None}

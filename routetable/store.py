"""The store interface and how a URL picks a backend.

    file:///abs/path/routes.json | file:var/routes.json   JSON file, atomic replace + lock
    redis://host:6379/0?prefix=carve:routes:              Redis hash + version key
    postgresql://user@host/db?schema=public               PostgreSQL tables + version row

With no URL, CARVE_ROUTES_URL is used, else `routes.json` under CARVE_VAR_DIR (default var/).
"""

from __future__ import annotations

import abc
import os
from collections.abc import Hashable
from pathlib import Path
from urllib.parse import urlsplit

from routetable.states import Change, RouteState, Snapshot


class StoreError(Exception):
    """The store cannot be read or written; the message says which and why."""


class RouteStore(abc.ABC):
    """Where route states and their audit history are persisted.

    Every method is synchronous and safe to call from several threads.
    """

    url: str

    @abc.abstractmethod
    def stamp(self) -> Hashable:
        """A cheap token that changes whenever the table changes (no full read)."""

    @abc.abstractmethod
    def load(self) -> Snapshot:
        """The whole table as it is now."""

    @abc.abstractmethod
    def set_state(self, route: str, state: RouteState, *, who: str) -> Change:
        """Persist `state` for `route` and audit it, atomically; returns the change."""

    @abc.abstractmethod
    def history(self, route: str | None = None, limit: int = 100) -> list[Change]:
        """The most recent changes, oldest first, optionally of one route."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


def default_url() -> str:
    """CARVE_ROUTES_URL, else a file under CARVE_VAR_DIR (default var/)."""
    url = os.environ.get("CARVE_ROUTES_URL")
    if url:
        return url
    var_dir = Path(os.environ.get("CARVE_VAR_DIR", "var"))
    return f"file:{var_dir / 'routes.json'}"


def open_store(url: str | None = None) -> RouteStore:
    """Open the backend a URL names (see the module docstring)."""
    url = url or default_url()
    scheme = urlsplit(url).scheme
    if scheme in ("", "file"):
        from routetable.filestore import FileStore

        return FileStore(file_path(url))
    if scheme in ("redis", "rediss", "unix"):
        from routetable.redisstore import RedisStore

        return RedisStore(url)
    if scheme in ("postgres", "postgresql"):
        from routetable.pgstore import PostgresStore

        return PostgresStore(url)
    raise StoreError(
        f"unknown route store {url!r}: use file:PATH, redis://HOST/DB or postgresql://HOST/DB"
    )


def file_path(url: str) -> Path:
    """The path of a `file:` URL: `file:///abs`, `file:relative` or a bare path."""
    parts = urlsplit(url)
    if parts.scheme == "":
        return Path(url)
    if parts.netloc not in ("", "localhost"):
        raise StoreError(f"a file store URL names no host: {url!r}")
    return Path(parts.path)

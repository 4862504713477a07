"""The on-disk caches: per-file facts keyed on content hash, and whole results.

Both live under the user's cache folder (`$CARVE_CACHE_DIR`, else
`$XDG_CACHE_HOME/carve/analyzer`, else `~/.cache/carve/analyzer`) in a folder named after
`FORMAT_VERSION`, so a format change starts a fresh cache. Everything there can be deleted at
any time; entries are written to a temporary file and renamed, so a crash never leaves a
half-written entry.

Entries are plain data (dicts, lists, strings, numbers) in `marshal`'s format, which loads
and stores several times faster than JSON: a warm run loads a whole result, and a run after an
edit stores one. The folder is the user's own (as their shell history is); an entry that does
not load is ignored and computed again.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

FORMAT_VERSION = 2  # 2: marshal instead of JSON
SUFFIX = ".marshal"


def cache_root() -> Path:
    explicit = os.environ.get("CARVE_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "carve" / "analyzer"


def content_key(content: bytes, salt: bytes) -> str:
    """The cache key of a file: its content hash, salted with what changes its facts."""
    return hashlib.blake2b(content, digest_size=20, key=salt).hexdigest()


class _Store:
    """Keyed plain-data entries in two-letter fan-out folders; `None` root means disabled."""

    def __init__(self, root: Path | None, name: str) -> None:
        # strings, not Paths: a run looks up every file's key, and pathlib costs more
        self.folder = os.path.join(root, f"v{FORMAT_VERSION}", name) if root is not None else None

    def _path(self, key: str) -> str | None:
        return os.path.join(self.folder, key[:2], key + SUFFIX) if self.folder else None

    def exists(self) -> bool:
        """Whether this store has ever been written (a first run finds nothing in it)."""
        return self.folder is not None and os.path.isdir(self.folder)

    def has(self, key: str) -> bool:
        path = self._path(key)
        return path is not None and os.path.exists(path)

    def load(self, key: str) -> Any | None:
        path = self._path(key)
        if path is None:
            return None
        try:
            with open(path, "rb") as handle:
                return marshal.loads(handle.read())
        except (OSError, ValueError, EOFError, TypeError):
            return None

    def store(self, key: str, data: Any) -> None:
        path = self._path(key)
        if path is None:
            return
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            # one writer per process, so the pid makes the temporary name unique
            temporary = f"{path}.{os.getpid()}.tmp"
            with open(temporary, "wb") as handle:
                handle.write(marshal.dumps(data))
            os.replace(temporary, path)
        except OSError:
            pass  # a cache that cannot be written only costs time


class FactsCache(_Store):
    """FileFacts.to_dict() per content key."""

    def __init__(self, root: Path | None) -> None:
        super().__init__(root, "facts")


class ResultCache(_Store):
    """Finished JSON documents per (options, every file's content key)."""

    def __init__(self, root: Path | None) -> None:
        super().__init__(root, "results")


class Memo(_Store):
    """Results of the graph algorithms (clustering, cycle cuts, modularity) keyed on exactly
    the weighted graph they ran on. A changed file that leaves the graph's shape alone (most
    edits) then costs no clustering, and no import of networkx at all."""

    def __init__(self, root: Path | None) -> None:
        super().__init__(root, "memo")

    def get(self, name: str, material: Any, compute: Callable[[], Any]) -> Any:
        """`compute()`'s JSON-able result for `material` (anything json.dumps takes)."""
        text = json.dumps([name, material], separators=(",", ":"))
        key = hashlib.blake2b(text.encode(), digest_size=20).hexdigest()
        found = self.load(key)
        if found is not None:
            return found
        value = compute()
        self.store(key, value)
        return value

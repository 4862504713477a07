from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from analyzer.extract import extract_facts
from analyzer.facts import FileFacts


@pytest.fixture(autouse=True)
def _private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test gets its own analyzer cache, never the user's."""
    folder = tmp_path_factory.mktemp("carve-cache")
    monkeypatch.setenv("CARVE_CACHE_DIR", str(folder))
    return folder


def facts_of(source: str) -> FileFacts:
    return extract_facts(textwrap.dedent(source))


@pytest.fixture
def write_tree(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    """Write {relative path: source} under tmp_path/"project" and return that folder."""

    def write(files: dict[str, str]) -> Path:
        root = tmp_path / "project"
        for relative, source in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(source))
        return root

    return write

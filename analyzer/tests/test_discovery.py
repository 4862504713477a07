"""Finding files and naming modules."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from analyzer.discovery import discover
from analyzer.options import AnalyzerError

TREE = {
    "proj/__init__.py": "",
    "proj/app/__init__.py": "",
    "proj/app/models.py": "",
    "proj/app/tests/__init__.py": "",
    "proj/app/tests/test_models.py": "",
    "proj/app/test_views.py": "",
    "proj/app/migrations/__init__.py": "",
    "proj/app/migrations/0001_initial.py": "",
    "proj/db/__init__.py": "",
    "proj/db/migrations/__init__.py": "",
    "proj/db/migrations/executor.py": "",
    "proj/legacy/old.py": "",
    "scripts/tool.py": "",
    ".venv/lib/x.py": "",
    "node_modules/y.py": "",
}


def test_modules_tests_and_migrations(write_tree: Callable[[dict[str, str]], Path]) -> None:
    root = write_tree(TREE)
    files, skipped = discover(root)
    assert [f.module for f in files] == [
        "old",  # legacy/ has no __init__.py: an import root of its own (no PEP 420 packages)
        "proj",
        "proj.app",
        "proj.app.models",
        "proj.db",
        "proj.db.migrations",  # a migration framework, not an app's migrations
        "proj.db.migrations.executor",
        "tool",  # scripts/ is not a package either
    ]
    assert skipped == []
    with_all = {f.module for f in discover(root, include_tests=True, include_migrations=True)[0]}
    assert {
        "proj.app.tests.test_models",
        "proj.app.test_views",
        "proj.app.migrations.0001_initial",
    } <= with_all


def test_exclude_globs_and_display_paths(write_tree: Callable[[dict[str, str]], Path]) -> None:
    root = write_tree(TREE)
    files, _ = discover(root, exclude=("proj/legacy", "*/executor.py"))
    names = {f.module: f.display for f in files}
    assert "old" not in names and "proj.db.migrations.executor" not in names
    assert names["proj.app.models"] == "proj/app/models.py"


def test_package_path_names_modules_from_its_import_root(
    write_tree: Callable[[dict[str, str]], Path],
) -> None:
    root = write_tree(TREE)
    files, _ = discover(root / "proj" / "app")
    assert [(f.module, f.display, f.is_package) for f in files] == [
        ("proj.app", "proj/app/__init__.py", True),
        ("proj.app.models", "proj/app/models.py", False),
    ]


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(AnalyzerError, match="no such directory"):
        discover(tmp_path / "nope")
    (tmp_path / "file.py").write_text("")
    with pytest.raises(AnalyzerError, match="not a directory"):
        discover(tmp_path / "file.py")
    (tmp_path / "empty").mkdir()
    with pytest.raises(AnalyzerError, match="no Python files"):
        discover(tmp_path / "empty")

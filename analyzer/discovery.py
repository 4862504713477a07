"""Finding a code base's Python files and naming their modules."""

from __future__ import annotations

import os
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

from analyzer.options import AnalyzerError

SKIPPED_DIRS = frozenset({"__pycache__", "node_modules", "site-packages"})
TEST_DIRS = frozenset({"tests"})


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One Python file: where it is, what it is shown as, and its module name."""

    path: Path
    display: str
    module: str
    is_package: bool


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file left out of the analysis, and why."""

    path: str
    reason: str


def is_test_file(name: str) -> bool:
    return name in ("tests.py", "conftest.py") or (
        name.startswith("test_") or name.endswith(("_test.py", "_tests.py"))
    )


APP_MARKERS = frozenset({"models.py", "apps.py", "models"})


def _has_init(directory: str) -> bool:
    return os.path.exists(os.path.join(directory, "__init__.py"))


def _import_root(directory: str) -> str:
    """The folder that `directory`'s top-level package sits in (itself if not a package)."""
    while _has_init(directory):
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    return directory


def _walk(root: str, *, include_tests: bool, include_migrations: bool) -> list[tuple[str, str]]:
    """(file, import root) for every Python file to analyse.

    Plain strings rather than pathlib: this runs on every invocation, warm ones included.
    A sub-folder that is a package shares its parent's import root; one that is not is its
    own import root.
    """
    found: list[tuple[str, str]] = []
    # (folder, its parent's import root); the root's own import root may lie above it
    stack = [(root, _import_root(root))]
    while stack:
        directory, parent_root = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        names = {entry.name for entry in entries}
        if "pyvenv.cfg" in names:
            continue  # a virtualenv
        # the listing says whether this folder is a package: no stat per folder
        import_root = parent_root if "__init__.py" in names or directory == root else directory
        for entry in entries:
            name = entry.name
            if entry.is_dir(follow_symlinks=False):
                if name.startswith(".") or name in SKIPPED_DIRS:
                    continue
                if not include_tests and name in TEST_DIRS:
                    continue
                # an app's migrations (not a migration framework such as django.db.migrations)
                if not include_migrations and name == "migrations" and names & APP_MARKERS:
                    continue
                stack.append((entry.path, import_root))
            elif name.endswith(".py") and (include_tests or not is_test_file(name)):
                found.append((entry.path, import_root))
    return sorted(found)


def discover(
    root: Path,
    *,
    include_tests: bool = False,
    include_migrations: bool = False,
    exclude: tuple[str, ...] = (),
) -> tuple[list[SourceFile], list[Skipped]]:
    """Every Python file under `root` with its module name, tests and migrations left out
    unless asked for; `exclude` globs match paths relative to `root`."""
    if not root.exists():
        raise AnalyzerError(f"{root}: no such directory")
    if not root.is_dir():
        raise AnalyzerError(f"{root}: not a directory; give the folder of the code base")
    top = os.path.realpath(root)
    paths = _walk(top, include_tests=include_tests, include_migrations=include_migrations)
    if exclude:
        paths = [
            (path, import_root)
            for path, import_root in paths
            if not _excluded(os.path.relpath(path, top).replace(os.sep, "/"), exclude)
        ]
    if not paths:
        raise AnalyzerError(f"{root}: no Python files here (tests and migrations are left out)")
    distinct = {import_root for _, import_root in paths}
    base = next(iter(distinct)) if len(distinct) == 1 else top
    files: dict[str, SourceFile] = {}
    skipped: list[Skipped] = []
    for path, import_root in paths:
        parts = path[len(import_root) + 1 : -len(".py")].split(os.sep)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        module = ".".join(parts) or os.path.basename(os.path.dirname(path))
        display = (
            path[len(base) + 1 :] if path.startswith(base + os.sep) else os.path.relpath(path, base)
        ).replace(os.sep, "/")
        if module in files:
            skipped.append(Skipped(display, f"module {module} is also {files[module].display}"))
            continue
        files[module] = SourceFile(Path(path), display, module, is_package)
    return sorted(files.values(), key=lambda f: f.module), skipped


def _excluded(relative: str, patterns: tuple[str, ...]) -> bool:
    return any(
        fnmatch(relative, pattern)
        or fnmatch(relative, pattern.rstrip("/") + "/*")
        or fnmatch(relative, "*/" + pattern.rstrip("/") + "/*")
        for pattern in patterns
    )

"""Suite-wide checks. With CARVE_TEST_REAL=1 the run is the real-services pass: it stops
at once, failing, when DATABASE_URL is not a reachable PostgreSQL or CELERY_BROKER_URL not
a reachable RabbitMQ, so nothing silently falls back to SQLite or the embedded broker."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def chromium() -> dict[str, Any]:
    """Keyword arguments for playwright's `chromium.launch` (sync or async) with Debian's
    headless Chromium. A page test fails, never skips, when the browser is missing."""
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing: apt-get install chromium")
    return {"executable_path": path, "args": CHROMIUM_ARGS}


@dataclass
class OfflinePage:
    """A Chromium page for a self-contained file, and what went wrong on it: console
    errors, uncaught exceptions, and any request for something other than a file."""

    page: Any
    problems: list[str] = field(default_factory=list)


@pytest.fixture
def offline_page(chromium: dict[str, Any]) -> Iterator[OfflinePage]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**chromium)
        try:
            opened = OfflinePage(browser.new_page())
            problems = opened.problems
            opened.page.on(
                "console", lambda m: problems.append(m.text) if m.type == "error" else None
            )
            opened.page.on("pageerror", lambda e: problems.append(str(e)))
            opened.page.on(
                "request", lambda r: None if r.url.startswith("file:") else problems.append(r.url)
            )
            yield opened
        finally:
            browser.close()


# Code that never opens a database or a broker connection: the analyzer, the proxy against
# its scripted upstreams, the layout checks, and `make run` on a fresh clone (which is the
# embedded mode by definition). Their tests would run the same twice, so the real pass
# leaves them out, except those marked `real` (the proxy's Redis route store).
MODE_FREE = ("analyzer/", "proxy/", "tests/architecture/", "tests/e2e/", "tests/test_compose.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `real` (Redis, PostgreSQL backends of their own) belong to the real
    pass; the embedded pass leaves them out rather than skipping them. The real pass leaves
    out the tests of MODE_FREE code."""
    if os.environ.get("CARVE_TEST_REAL") == "1":
        root = config.rootpath

        def left_out(item: pytest.Item) -> bool:
            path = item.path.relative_to(root).as_posix()
            return path.startswith(MODE_FREE) and not item.get_closest_marker("real")
    else:

        def left_out(item: pytest.Item) -> bool:
            return item.get_closest_marker("real") is not None

    out = [item for item in items if left_out(item)]
    if out:
        config.hook.pytest_deselected(items=out)
        items[:] = [item for item in items if not left_out(item)]


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("CARVE_TEST_REAL") != "1":
        return
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        pytest.exit(f"CARVE_TEST_REAL=1 needs DATABASE_URL=postgres://...; got {url!r}", 3)
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    # The tests run in their own test_<name> database; the server is what must answer.
    server = conninfo_to_dict(url.replace("postgres://", "postgresql://", 1))
    server["dbname"] = "postgres"
    try:
        psycopg.connect(make_conninfo(**server), connect_timeout=5).close()
    except psycopg.Error as exc:
        pytest.exit(f"CARVE_TEST_REAL=1 but PostgreSQL at {url} is unreachable: {exc}", 3)

    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not broker.startswith("amqp://"):
        pytest.exit(f"CARVE_TEST_REAL=1 needs CELERY_BROKER_URL=amqp://...; got {broker!r}", 3)
    from kombu import Connection

    try:
        with Connection(broker, connect_timeout=5) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as exc:  # kombu raises many kinds
        pytest.exit(f"CARVE_TEST_REAL=1 but RabbitMQ at {broker} is unreachable: {exc}", 3)

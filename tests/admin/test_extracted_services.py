"""The extracted services' admin sites follow the same rules as the monolith's: the walk of
test_read_only_site.py runs again in a process of its own under each service's settings."""

from __future__ import annotations

import os
import subprocess
import sys
from urllib.parse import urlsplit, urlunsplit

import pytest

from carve.services import SETTINGS_MODULES
from carve.stack import REPO

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db]
SITE_TEST = "tests/admin/test_read_only_site.py"


def database_of_its_own(url: str, service: str) -> str:
    """The same server, a database name of the service's own (pytest-django prefixes it
    with test_), so the nested run never touches the test database of this process."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"{parts.path}_admin_{service}"))


@pytest.mark.parametrize("service", ["payments", "inventory"])
def test_each_extracted_service_admin(service: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    if env.get("DATABASE_URL", "").startswith("postgres"):
        env["DATABASE_URL"] = database_of_its_own(env["DATABASE_URL"], service)
    else:
        env.pop("DATABASE_URL", None)  # the service's SQLite file; the test one is in memory
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", f"--ds={SETTINGS_MODULES[service]}", SITE_TEST],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert " passed" in run.stdout and "skipped" not in run.stdout

"""`carve extract backfill` and `verify` against a monolith with data the service never saw:
idempotent, resumable after a kill, and verify names every difference."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from carve.stack import REPO
from tests.integration.harness import databases, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]
PRODUCTS = 1500


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )


def sql(env: dict[str, str], settings: str, query: str) -> list[list[Any]]:
    code = (
        "import json, django; django.setup(); from django.db import connection\n"
        "with connection.cursor() as c:\n"
        f"    c.execute({query!r}); print(json.dumps(c.fetchall(), default=str))"
    )
    out = run({**env, "DJANGO_SETTINGS_MODULE": settings}, "-c", code)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_backfill_is_idempotent_resumable_and_verified(tmp_path: Path) -> None:
    with databases(uuid.uuid4().hex[:8]) as urls:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.endswith("DATABASE_URL") and k != "DJANGO_SETTINGS_MODULE"
        }
        env.update(CARVE_VAR_DIR=str(tmp_path), PYTHONUNBUFFERED="1")
        for name, url in urls.items():
            env[f"{name.upper()}_DATABASE_URL"] = url
        monolith = {**env, **({"DATABASE_URL": urls["monolith"]} if urls else {})}
        inventory = {**env, **({"DATABASE_URL": urls["inventory"]} if urls else {})}
        assert run(monolith, "manage.py", "migrate", "-v0").returncode == 0
        assert (
            run(
                monolith, "manage.py", "seed", "--users", "1", "--products", str(PRODUCTS)
            ).returncode
            == 0
        )
        assert run(inventory, "-m", "extracted.inventory", "migrate", "-v0").returncode == 0

        before = run(env, "-m", "carve", "extract", "verify", "inventory", "--json")
        assert before.returncode == 1
        assert len(json.loads(before.stdout)[0]["only_in_monolith"]) == PRODUCTS

        # Kill a backfill part way, then run it again: it goes on from where it stopped.
        first = subprocess.Popen(
            [sys.executable, "-m", "carve", "extract", "backfill", "inventory"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        settings = "extracted.inventory.config.settings"
        service = inventory  # its DATABASE_URL, in real mode
        progress = "SELECT copied FROM messaging_backfillprogress WHERE name = 'inventory.products'"
        wait_until(
            lambda: (
                first.poll() is None and (sql(service, settings, progress) or [[0]])[0][0] >= 200
            ),
            timeout=120,
            message="the backfill made no progress",
        )
        first.send_signal(signal.SIGKILL)
        first.wait()
        copied_before = sql(service, settings, "SELECT count(*) FROM inventory_product")[0][0]
        assert 0 < copied_before < PRODUCTS

        second = run(env, "-m", "carve", "extract", "backfill", "inventory")
        assert second.returncode == 0, second.stderr
        assert "resumed after SKU-" in second.stdout
        products_line = next(line for line in second.stdout.splitlines() if ".products:" in line)
        read = int(products_line.split(" of ")[1].split()[0])
        assert read < PRODUCTS  # it did not start over

        again = run(env, "-m", "carve", "extract", "backfill", "inventory", "--json")
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["inventory.products"]["copied"] == 0  # idempotent
        clean = run(env, "-m", "carve", "extract", "verify", "inventory")
        assert clean.returncode == 0, clean.stdout

        sql_update = "UPDATE inventory_product SET name = 'Renamed' WHERE sku = 'SKU-0007'"
        code = (
            "import django; django.setup(); from django.db import connection\n"
            f"connection.cursor().execute({sql_update!r})"
        )
        assert run({**service, "DJANGO_SETTINGS_MODULE": settings}, "-c", code).returncode == 0
        drift = run(env, "-m", "carve", "extract", "verify", "inventory")
        assert drift.returncode == 1
        assert "inventory.products SKU-0007: differs in name" in drift.stdout

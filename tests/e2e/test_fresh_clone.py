"""Tried as a new user: on a fresh copy of the repository, `make run` alone installs,
migrates, seeds and serves the API (through the proxy), the admin (with the documented
superuser) and the schema docs."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.ports import free_base_port

REPO = Path(__file__).resolve().parents[2]


def fresh_copy(target: Path) -> None:
    """What a clone holds: the tracked files and the new ones git does not ignore."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def wait_for(
    url: str, process: subprocess.Popen[bytes], deadline: float, log: Path
) -> requests.Response:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
            raise AssertionError(
                f"make run exited with {process.returncode}; its log ends:\n{tail}"
            )
        try:
            response = requests.get(url, timeout=5)
            if response.status_code == 200:
                return response
        except requests.RequestException:
            pass  # not up yet, or busy starting
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer in time")


@pytest.mark.slow
@pytest.mark.integration
def test_make_run_on_a_fresh_clone_serves_api_admin_and_docs(tmp_path):
    clone = tmp_path / "carve"
    fresh_copy(clone)
    port = free_base_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "CARVE_", "VIRTUAL_ENV"))
    }
    log = (tmp_path / "make-run.log").open("wb")
    process = subprocess.Popen(
        ["make", "run", f"BASE_PORT={port}"],
        cwd=clone,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    proxy = f"http://127.0.0.1:{port + 80}"
    try:
        products = wait_for(
            f"{proxy}/api/inventory/products/",
            process,
            time.monotonic() + 600,
            tmp_path / "make-run.log",
        )
        assert products.status_code == 200
        assert products.json()["count"] == 20

        token = requests.post(
            f"{base}/api/users/token/",
            json={"username": "user0001", "password": "carve-demo"},
            timeout=10,
        ).json()["token"]
        order = requests.post(
            f"{proxy}/api/orders/",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
            json={"lines": [{"sku": "SKU-0001", "quantity": 1}], "card_token": "tok_ok"},
        )
        assert order.status_code == 201 and order.json()["status"] == "confirmed"

        docs = requests.get(f"{base}/api/docs/", timeout=10)
        assert docs.status_code == 200 and "swagger-ui" in docs.text
        assert requests.get(f"{base}/api/schema/", timeout=10).status_code == 200

        admin = requests.Session()
        login_page = admin.get(f"{base}/admin/login/", timeout=10)
        csrf = admin.cookies["csrftoken"]
        logged_in = admin.post(
            f"{base}/admin/login/?next=/admin/",
            data={"username": "admin", "password": "admin", "csrfmiddlewaretoken": csrf},
            headers={"Referer": login_page.url},
            timeout=10,
        )
        assert "Site administration" in logged_in.text
        assert admin.get(f"{base}/admin/orders/order/", timeout=10).status_code == 200
    finally:
        if process.poll() is None:  # it may have exited already: its failure is the news
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        log.close()

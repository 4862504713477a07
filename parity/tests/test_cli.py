"""`carve parity` end to end against fake deployments: verdicts, formats, exit codes, the
proxy's shadow mismatches, exported tests that reproduce, and plain errors."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from carve.cli import cli
from parity.tests.fakes import Fake, serving

MODULE = "parity.tests.fake_scenarios"


@pytest.fixture
def sides() -> Iterator[tuple[Fake, Fake]]:
    with serving(Fake("captured")) as monolith, serving(Fake("captured")) as extracted:
        yield monolith, extracted


DJANGO_404 = (
    '<!DOCTYPE html>\n<html lang="en">\n<head><title>Page not found at /api/users/token/'
    "</title></head>\n<body><h1>Page not found <span>(404)</span></h1>"
    "<p>Using the URLconf defined in <code>config.urls</code> ...</p></body></html>\n"
)


def parity(*args: str):
    return CliRunner().invoke(cli, ["parity", *args], catch_exceptions=False)


def run_args(monolith: Fake, extracted: Fake, *more: str) -> list[str]:
    return [
        "run",
        "--monolith-url", monolith.url,
        "--extracted-url", extracted.url,
        "--module", MODULE,
        "--scenario", "fake_charges",
        "--deadline", "5",
        *more,
    ]  # fmt: skip


def test_list_names_every_scenario():
    result = parity("list", "--module", MODULE)
    assert result.exit_code == 0
    for name in ("register_and_log_in", "race_for_the_last_unit", "retried_charge", "fake_charges"):
        assert name in result.stdout


def test_the_same_answers_are_clean(sides):
    result = parity(*run_args(*sides, "--format", "json"))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["clean"] is True
    assert report["counts"]["matched"] == 2
    assert report["warnings"] == {}  # each fake's links name its own address
    assert "not collected" in report["shadow_note"]


def test_a_difference_fails_the_run_and_each_format_shows_it(sides, tmp_path):
    monolith, extracted = sides
    extracted.charge_status = "failed"
    page = tmp_path / "report.html"
    result = parity(*run_args(monolith, extracted, "--format", "html", "--out", str(page)))
    assert result.exit_code == 1
    assert "DIFFERENCES FOUND" in result.stderr and str(page) in result.stderr
    assert "$.body.results[0].status" in page.read_text()

    text = parity(*run_args(monolith, extracted))
    assert text.exit_code == 1
    assert "MISMATCHED fake_charges > list the charges" in text.stdout
    assert '"captured" -> "failed"' in text.stdout


def test_an_exported_test_reproduces_the_difference_until_it_is_fixed(sides, tmp_path):
    monolith, extracted = sides
    extracted.charge_status = "failed"
    folder = tmp_path / "exported"
    result = parity(*run_args(monolith, extracted, "--export-tests", str(folder)))
    assert result.exit_code == 1
    [exported] = sorted(folder.glob("test_*.py"))
    assert exported.name == "test_parity_fake_charges__list_the_charges.py"
    assert (
        '"captured" -> "failed"' in exported.read_text()
        or "'captured' -> 'failed'" in exported.read_text()
    )

    def pytest_on(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(path)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    failing = pytest_on(exported)
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "1 failed" in failing.stdout and "$.body.results[0].status" in failing.stdout

    extracted.charge_status = "captured"  # the fix
    passing = pytest_on(exported)
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert "1 passed" in passing.stdout


def test_shadow_mismatches_come_from_the_proxy_and_are_replayed(sides, tmp_path):
    monolith, extracted = sides
    later = time.time() + 30  # recorded "during" the run

    def recorded(mismatch_id: int, at: float, path: str, difference: str) -> dict[str, object]:
        return {"id": mismatch_id, "route": "payments", "at": at, "method": "GET", "path": path,
                "headers": {}, "differences": [difference], "replays": []}  # fmt: skip

    monolith.mismatches = [
        recorded(1, later, "/api/payments/charges/", "body $.count"),
        recorded(2, later, "/api/payments/charges/x/", "status 200 != 404"),
        recorded(3, 1.0, "/old/", "status 200 != 500"),
    ]
    monolith.replays = {1: [["body $.count"]], 2: [[]]}
    folder = tmp_path / "exported"
    token = ("--admin-token", monolith.admin_token)
    result = parity(
        *run_args(monolith, extracted, *token, "--format", "json", "--export-tests", str(folder))
    )
    assert result.exit_code == 1  # one mismatch persists
    report = json.loads(result.stdout)
    assert [(m["id"], m["persistent"]) for m in report["shadow"]] == [(1, True), (2, False)]
    assert "1 older one(s) left out" in report["shadow_note"]
    assert [p.name for p in folder.glob("test_*.py")] == ["test_parity_shadow_1.py"]


def test_plain_errors_exit_2(sides, tmp_path):
    monolith, extracted = sides
    unreachable = parity(
        "run", "--monolith-url", "http://127.0.0.1:9", "--extracted-url", extracted.url
    )
    assert unreachable.exit_code == 2
    assert "cannot reach the monolith deployment at http://127.0.0.1:9" in unreachable.stderr

    unknown = parity(*run_args(monolith, extracted, "--scenario", "no_such_*"))
    assert unknown.exit_code == 2
    assert "no scenario matches 'no_such_*'" in unknown.stderr

    staff = parity(*run_args(monolith, extracted, "--staff", "nobody:nothing"))
    assert staff.exit_code == 2
    assert "refused the staff login" in staff.stderr
    assert "400 Bad Request: bad login" in staff.stderr

    # Not a carve deployment's login (Django's own 404 page): said in a line, not the HTML.
    monolith.login_page = DJANGO_404
    page = parity(*run_args(monolith, extracted))
    monolith.login_page = ""
    assert page.exit_code == 2
    assert f"404 Not Found: no login endpoint at {monolith.url}/api/users/token/" in page.stderr
    assert "<" not in page.stderr

    token = parity(*run_args(monolith, extracted, "--admin-token", "wrong"))
    assert token.exit_code == 2
    assert "the proxy refused the admin token" in token.stderr

    module = parity("list", "--module", "no.such.module")
    assert module.exit_code == 2
    assert "cannot import a scenario module" in module.stderr

"""The HTML report in headless Chromium: self-contained, loads cleanly, filters, opens diffs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from parity.diff import compare_runs
from parity.model import DataCheck, Report, ScenarioResult, ShadowMismatch, Side
from parity.report import render
from parity.tests.builders import observe, run_of
from parity.tests.test_normalizers import _refusals


def crafted_report() -> Report:
    charge = {"id": "591c563a-ee64-4013-aa8c-21fe83ba76ad", "status": "declined"}
    left = run_of(
        "monolith",
        observe("read the charge", charge),
        observe("list products", {"next": "http://127.0.0.1:8000/api/x/?page=2</script>"}),
        base="http://127.0.0.1:8080",
        scenario="order_declined",
    )
    right = run_of(
        "extracted",
        observe("read the charge", {**charge, "status": "failed"}),
        observe("list products", {"next": "http://127.0.0.1:8002/api/x/?page=2</script>"}),
        base="http://127.0.0.1:8080",
        scenario="order_declined",
    )
    report = Report(
        Side("monolith", "http://127.0.0.1:8080", "aa11", "payments, inventory: shadow"),
        Side("extracted", "http://127.0.0.1:8080", "bb22", "payments, inventory: extracted"),
    )
    report.scenarios = [
        ScenarioResult(
            "order_declined", "The card is declined <b>not bold</b>.", compare_runs(left, right)
        ),
        ScenarioResult("order_out_of_stock", "Out of stock.", _refusals()),
        ScenarioResult("race_for_the_last_unit", "A race.", errors={"extracted": "KeyError: 'id'"}),
    ]
    report.data_checks = [
        DataCheck("after the monolith pass", True, [_aggregate("payments.charges", clean=True)]),
        DataCheck(
            "after the extracted pass", False, [_aggregate("inventory.products", clean=False)]
        ),
    ]
    report.shadow = [
        ShadowMismatch(
            1, "inventory", "GET", "/api/inventory/products/", 1.0, ["body $.next"], ["body $.next"]
        ),
        ShadowMismatch(
            2, "payments", "GET", "/api/payments/charges/", 2.0, ["status 200 != 404"], []
        ),
    ]
    report.shadow_note = "2 recorded during this run"
    return report


def _aggregate(name: str, *, clean: bool) -> dict[str, object]:
    return {
        "aggregate": name,
        "clean": clean,
        "total_monolith": 3,
        "total_service": 3 if clean else 2,
        "only_in_monolith": [] if clean else ["SKU-0001"],
        "only_in_service": [],
        "different": {},
    }


@pytest.fixture
def page_file(tmp_path: Path) -> Path:
    page = tmp_path / "parity.html"
    page.write_text(render(crafted_report(), "html"), encoding="utf-8")
    return page


def test_page_is_self_contained_and_escapes_what_it_shows(page_file: Path) -> None:
    html = page_file.read_text()
    assert "<script src" not in html and "<link" not in html and "@import" not in html
    assert not re.search(r"(src|href)=\"?https?:", html)
    assert "<b>not bold</b>" not in html and "&lt;b&gt;not bold&lt;/b&gt;" in html
    embedded = html.split('id="parity-data">', 1)[1].split("</script>", 1)[0]
    data = json.loads(embedded)
    assert data["counts"]["mismatched"] == 1 and data["clean"] is False


@pytest.mark.integration
def test_page_shows_problems_first_and_opens_a_diff(page_file: Path, offline_page: Any) -> None:
    page = offline_page.page
    page.goto(page_file.as_uri())
    assert "DIFFERENCES FOUND" in page.locator("#verdict").inner_text()
    assert page.locator('[data-count="mismatched"]').inner_text() == "1 mismatched"
    assert page.locator('[data-count="accepted"]').inner_text() == "2 accepted"

    # Problems only, at first: the mismatch is shown (open), matched steps are not.
    assert page.locator("#only-problems").is_checked()
    visible = page.locator("details.step:visible")
    assert visible.count() == 1
    mismatch = page.locator('details.step[data-outcome="mismatched"]')
    assert mismatch.get_attribute("open") is not None
    assert "$.body.status" in mismatch.locator("table.differences").inner_text()
    assert '"status": "failed"' in mismatch.locator("pre.diff .add").inner_text()
    assert page.locator("#scenario-race_for_the_last_unit").is_visible()  # it errored
    assert page.locator("#scenario-order_out_of_stock").is_hidden()

    # Everything: accepted steps appear, closed; a click opens one with its notes.
    page.locator("#only-problems").uncheck()
    assert page.locator("details.step:visible").count() == 4
    accepted = page.locator('details.step[data-outcome="accepted"]').first
    assert accepted.get_attribute("open") is None
    accepted.locator("summary").click()
    assert accepted.get_attribute("open") is not None
    assert "read as: refused for stock" in accepted.locator(".inner").inner_text()

    # Free-text filter, and the other sections.
    page.locator("#filter").fill("list products")
    assert page.locator("details.step:visible").count() == 1
    assert "1 step(s) shown" in page.locator("#shown").inner_text()
    assert "links point at http://127.0.0.1:8000" in page.content()
    shadow = page.locator("#shadow").inner_text()
    assert "persistent" in shadow and "gone (lag)" in shadow
    assert "SKU-0001" in page.locator("main").inner_text()
    assert offline_page.problems == []

"""The HTML report in headless Chromium: it loads cleanly, draws, and answers clicks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from analyzer.analysis import analyze
from analyzer.options import AnalyzeOptions
from analyzer.report import render
from analyzer.tests.shop import SHOP


@pytest.fixture
def report(write_tree: Callable[[dict[str, str]], Path], tmp_path: Path) -> Path:
    doc = analyze(AnalyzeOptions(path=write_tree(SHOP)))
    page = tmp_path / "report.html"
    page.write_text(render(doc, "html"))
    return page


def test_page_is_self_contained(report: Path) -> None:
    html = report.read_text()
    assert (
        "<script src" not in html
        and "<link" not in html
        and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    )


@pytest.mark.integration
def test_page_draws_the_graph_and_shows_a_context_on_click(report: Path, offline_page: Any) -> None:
    page = offline_page.page
    page.goto(report.as_uri())
    # four apps in three contexts; left outside: shop, manage and the reports read model
    assert page.locator("svg .node").count() == 7
    assert page.locator("svg .group").count() == 4
    assert page.locator("svg .link").count() >= 3
    page.locator('[data-context="catalog"]').click()
    details = page.locator("#details")
    assert "Context catalog" in details.inner_text()
    assert "shop.catalog.selectors" in details.locator(".modules").inner_text()
    edges = details.locator(".edges").inner_text()
    assert "shop.catalog.services → shop.orders.models (orders)" in edges
    assert "shop/catalog/services.py:10" in edges
    assert page.locator('[data-context="catalog"].selected').count() == 1
    assert offline_page.problems == []

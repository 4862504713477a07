"""`carve analyze` as a person runs it: formats, output files, one-line errors, progress."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from analyzer.cli import analyze
from analyzer.progress import LazyProgress
from analyzer.tests.shop import SHOP


@pytest.fixture
def shop(write_tree: Callable[[dict[str, str]], Path]) -> Path:
    return write_tree(SHOP)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(analyze, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_text_report_names_contexts_metrics_and_sites(shop: Path) -> None:
    code, out, _ = run(str(shop))
    assert code == 0
    assert "Suggested contexts (3)" in out
    assert "modularity Q" in out and "lower is better" in out
    assert "shop/orders/models.py:12" in out
    assert "shop/broken.py: syntax error" in out


def test_every_format_to_a_file(shop: Path, tmp_path: Path) -> None:
    for fmt, marker in (
        ("json", '"schema": "carve.analyze/1"'),
        ("dot", "digraph carve {"),
        ("html", '<svg id="graph"'),
        ("text", "Suggested contexts"),
    ):
        out = tmp_path / f"report.{fmt}"
        code, stdout, _ = run(str(shop), "--format", fmt, "--out", str(out))
        assert code == 0 and stdout == ""
        assert marker in out.read_text()


def test_json_document_shape(shop: Path) -> None:
    doc = json.loads(run(str(shop), "--format", "json")[1])
    module = next(m for m in doc["modules"] if m["name"] == "shop.orders.models")
    assert module == {
        "name": "shop.orders.models",
        "path": "shop/orders/models.py",
        "app": "orders",
        "lines": 12,
        "context": "orders",
    }
    edge = doc["edges"][0]
    assert set(edge) == {"source", "target", "kind", "weight", "sites"}
    assert set(edge["sites"][0]) == {"file", "line"}
    assert set(doc["contexts"][0]) >= {"name", "apps", "modules"}
    assert set(doc["metrics"]) >= {"modularity", "sm", "icp", "ifn", "ned", "current"}
    assert set(doc) >= {"cycles", "violations", "skipped", "writes", "cross_context"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing-folder"], "missing-folder: no such directory"),
        (["--pin", "shop.orders"], "--pin 'shop.orders': write MODULE=CONTEXT"),
        (["--pin", "not a module=x"], "is not a dotted module name"),
        (["--contexts", "zero"], "--contexts 'zero': use 'auto' or a positive number"),
        (["--loader", "get_class=weird"], "--loader 'get_class=weird'"),
        (["--check"], "--check needs a decision"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(shop: Path, args: list[str], message: str) -> None:
    arguments = [a if a != "missing-folder" else str(shop / "missing-folder") for a in args]
    if "missing-folder" not in args:
        arguments.insert(0, str(shop))
    code, out, err = run(*arguments)
    assert code == 2
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_folder_without_python(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    code, _, err = run(str(tmp_path))
    assert code == 2 and "no Python files here" in err


def test_progress_bar_appears_only_after_the_delay() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=80)
    quick = LazyProgress(delay=3600, console=console)
    quick.start(10)
    quick.advance(5)
    quick.stop()
    assert screen.getvalue() == ""
    slow = LazyProgress(delay=0, console=console)
    slow.start(10)
    slow.advance(5)
    assert "parsing" in screen.getvalue() and "50%" in screen.getvalue()
    slow.stop()


def test_configured_loader_and_exclude(write_tree: Callable[[dict[str, str]], Path]) -> None:
    root = write_tree(
        {
            "site/__init__.py": "",
            "site/settings.py": 'INSTALLED_APPS = ["site.shop", "site.stock"]\n',
            "site/shop/__init__.py": "",
            "site/shop/views.py": (
                'from site.core import fetch_model\nItem = fetch_model("stock", "Item")\n'
            ),
            "site/stock/__init__.py": "",
            "site/stock/models.py": "class Item: ...\n",
            "site/stock/legacy/__init__.py": "",
            "site/stock/legacy/old.py": "from site.shop import views\n",
        }
    )

    def edges(*extra: str) -> set[tuple[str, str, str]]:
        doc = json.loads(run(str(root), "--format", "json", "--no-cache", *extra)[1])
        return {(e["source"], e["target"], e["kind"]) for e in doc["edges"]}

    plain = edges()
    assert ("site.shop.views", "site.stock.models", "loader") not in plain
    assert ("site.stock.legacy.old", "site.shop.views", "import") in plain
    configured = edges("--loader", "fetch_model=model", "--exclude", "site/stock/legacy")
    assert ("site.shop.views", "site.stock.models", "loader") in configured
    assert not any(source.startswith("site.stock.legacy") for source, _, _ in configured)

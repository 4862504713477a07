"""End to end on a generated multi-app Django project with known answers."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from analyzer.analysis import analyze
from analyzer.cli import analyze as analyze_command
from analyzer.options import AnalyzeOptions
from analyzer.tests.shop import SHOP


@pytest.fixture
def shop(write_tree: Callable[[dict[str, str]], Path]) -> Path:
    return write_tree(SHOP)


def edge_sites(doc: dict, source: str, target: str, kind: str) -> list[tuple[str, int]]:
    for edge in doc["edges"]:
        if (edge["source"], edge["target"], edge["kind"]) == (source, target, kind):
            return [(s["file"], s["line"]) for s in edge["sites"]]
    raise AssertionError(f"no {kind} edge {source} -> {target}")


def test_contexts_follow_the_entanglement(shop: Path) -> None:
    doc = analyze(AnalyzeOptions(path=shop))
    assert {c["name"]: c["apps"] for c in doc["contexts"]} == {
        "accounts": ["accounts"],
        "catalog": ["catalog"],
        "orders": ["billing", "orders"],
    }
    roles = {a["name"]: (a["role"], a["reason"]) for a in doc["apps"]}
    assert roles["shop"][0] == "project" and roles["manage"][0] == "project"
    assert roles["reports"] == (
        "support",
        "a read model fed by events of catalog, orders; nothing depends on it",
    )
    assert doc["metrics"]["modularity"] > doc["metrics"]["current"]["modularity"]


def test_django_edges_with_their_sites(shop: Path) -> None:
    doc = analyze(AnalyzeOptions(path=shop))
    assert edge_sites(doc, "shop.urls", "shop.orders.urls", "url_include") == [("shop/urls.py", 6)]
    assert edge_sites(doc, "shop.orders.models", "shop.billing.models", "relation") == [
        ("shop/orders/models.py", 7)
    ]
    # settings.AUTH_USER_MODEL resolves through the settings' "accounts.User"
    assert edge_sites(doc, "shop.orders.models", "shop.accounts.models", "relation") == [
        ("shop/orders/models.py", 6)
    ]
    assert edge_sites(doc, "shop.orders.services", "shop.billing.models", "loader") == [
        ("shop/orders/services.py", 13)
    ]
    assert edge_sites(doc, "shop.orders.services", "shop.billing.tasks", "celery_task") == [
        ("shop/orders/services.py", 15)
    ]
    assert edge_sites(doc, "shop.billing.receivers", "shop.orders.models", "signal") == [
        ("shop/billing/receivers.py", 6)
    ]
    assert edge_sites(doc, "shop.orders.serializers", "shop.billing.models", "meta_model") == [
        ("shop/orders/serializers.py", 7)
    ]
    # an event contract module named after an app: `shop_contracts.events.orders`
    assert edge_sites(doc, "shop.reports.handlers", "shop.orders", "event") == [
        ("shop/reports/handlers.py", 2)
    ]
    names = {m["name"] for m in doc["modules"]}
    assert not any(".tests" in n or ".migrations" in n for n in names)


def test_broken_file_is_skipped_and_the_run_goes_on(shop: Path) -> None:
    doc = analyze(AnalyzeOptions(path=shop))
    assert [s["path"] for s in doc["skipped"]] == ["shop/broken.py"]
    assert doc["skipped"][0]["reason"].startswith("syntax error at line")
    assert "shop.broken" in {m["name"] for m in doc["modules"]}


def test_cross_context_writes_cycles_and_cost(shop: Path) -> None:
    doc = analyze(AnalyzeOptions(path=shop))
    crossing = [w for w in doc["writes"] if w["cross_context"]]
    assert [(w["writer"], w["model"], w["sites"]) for w in crossing] == [
        (
            "catalog",
            "shop.orders.models.Line",
            [{"file": "shop/catalog/services.py", "line": 10, "method": "delete"}],
        )
    ]
    contexts = [c for c in doc["cycles"] if c["level"] == "context"]
    assert [c["members"] for c in contexts] == [["catalog", "orders"]]
    # orders -> catalog (a relation, 3.375) is lighter than catalog -> orders (import, call, write)
    assert [(cut["source"], cut["target"]) for cut in contexts[0]["cuts"]] == [
        ("orders", "catalog")
    ]
    pair = next(
        p for p in doc["cross_context"] if (p["source"], p["target"]) == ("orders", "catalog")
    )
    assert pair["api_calls"] == 1 and pair["callees"] == ["shop.catalog.public.price_get"]


def test_check_against_a_decision(shop: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    decision = tmp_path / "decision.toml"
    decision.write_text(
        textwrap.dedent(
            """
            [tool.carve]
            api = ["public"]
            allow = ["shop.orders.models -> shop.accounts.models"]

            [tool.carve.contexts]
            accounts = ["shop.accounts"]
            catalog = ["shop.catalog"]
            orders = ["shop.orders", "shop.billing"]
            """
        )
    )
    result = runner.invoke(analyze_command, [str(shop), "--check", "--decision", str(decision)])
    assert result.exit_code == 1, result.output
    assert "shop.orders.models -> shop.catalog.models" in result.output
    assert "shop/orders/models.py:12" in result.output
    assert "shop/catalog/services.py:3" in result.output
    assert "shop.accounts" not in result.output.split("outside the API")[1]

    saved = tmp_path / "saved.toml"
    result = runner.invoke(
        analyze_command, [str(shop), "--save-decision", str(saved), "--format", "json"]
    )
    assert result.exit_code == 0
    assert (
        runner.invoke(analyze_command, [str(shop), "--check", "--decision", str(saved)]).exit_code
        == 0
    )

    (shop / "shop/accounts/reports.py").write_text("from shop.billing.models import Invoice\n")
    result = runner.invoke(
        analyze_command, [str(shop), "--check", "--decision", str(saved), "--format", "json"]
    )
    assert result.exit_code == 1
    assert (
        "shop.accounts.reports -> shop.billing.models: shop/accounts/reports.py:1" in result.stderr
    )
    violations = json.loads(result.stdout)["violations"]
    assert [(v["source"], v["target"], v["sites"][0]["line"]) for v in violations] == [
        ("shop.accounts.reports", "shop.billing.models", 1)
    ]


def test_decision_in_the_projects_pyproject(shop: Path) -> None:
    (shop / "pyproject.toml").write_text(
        "[tool.carve.contexts]\n"
        'accounts = ["shop.accounts"]\n'
        'shop = ["shop.catalog", "shop.orders", "shop.billing"]\n'
    )
    result = CliRunner().invoke(analyze_command, [str(shop), "--check"])
    assert result.exit_code == 1
    assert "shop.orders.models -> shop.accounts.models" in result.output


def test_emitted_contracts_hold_for_the_suggestion(shop: Path, tmp_path: Path) -> None:
    contracts = tmp_path / "contracts.toml"
    result = CliRunner().invoke(analyze_command, [str(shop), "--emit-contracts", str(contracts)])
    assert result.exit_code == 0
    (shop / "shop/broken.py").unlink()  # grimp, too, needs files that parse
    text = contracts.read_text()
    assert 'source_modules = ["shop.catalog"]' in text
    lint = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run(
        [str(lint), str(contracts), "--no-cache"],
        cwd=shop,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(shop), "PATH": ""},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 kept, 0 broken" in run.stdout

    (shop / "shop/accounts/reports.py").write_text("from shop.catalog.models import Product\n")
    run = subprocess.run(
        [str(lint), str(contracts), "--no-cache"],
        cwd=shop,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(shop), "PATH": ""},
    )
    assert run.returncode == 1
    assert "shop.accounts.reports -> shop.catalog.models" in run.stdout


def test_pins_move_an_app_and_contexts_n_merges(shop: Path) -> None:
    # One pin names the context its app lands in; orders comes along, being entangled.
    pinned = analyze(AnalyzeOptions(path=shop, pins=(("shop.billing", "payments"),)))
    assert {c["name"]: c["apps"] for c in pinned["contexts"]}["payments"] == ["billing", "orders"]
    assert next(c for c in pinned["contexts"] if c["name"] == "payments")["pinned"]
    # Two pins keep two contexts apart, whatever the clustering would do.
    split = analyze(
        AnalyzeOptions(path=shop, pins=(("shop.billing", "payments"), ("shop.orders", "orders")))
    )
    contexts = {c["name"]: c["apps"] for c in split["contexts"]}
    assert contexts["payments"] == ["billing"] and contexts["orders"] == ["orders"]
    # A pin narrower than an app moves just that part (a what-if move).
    moved = analyze(AnalyzeOptions(path=shop, pins=(("shop.orders.serializers", "payments"),)))
    by_module = {m["name"]: m["context"] for m in moved["modules"]}
    assert by_module["shop.orders.serializers"] == "payments"
    # Named after an app, a pin puts the part with that app.
    joined = analyze(AnalyzeOptions(path=shop, pins=(("shop.orders.serializers", "catalog"),)))
    by_module = {m["name"]: m["context"] for m in joined["modules"]}
    assert by_module["shop.orders.serializers"] == by_module["shop.catalog.models"] == "catalog"
    assert by_module["shop.orders.services"] == "orders"
    two = analyze(AnalyzeOptions(path=shop, contexts=2))
    assert len(two["contexts"]) == 2
    one = analyze(AnalyzeOptions(path=shop, contexts=1))
    assert [c["apps"] for c in one["contexts"]] == [["accounts", "billing", "catalog", "orders"]]


def test_module_granularity_keeps_apps_mostly_whole(shop: Path) -> None:
    doc = analyze(AnalyzeOptions(path=shop, granularity="module"))
    context_of = {m["name"]: m["context"] for m in doc["modules"]}
    assert context_of["shop.catalog.selectors"] == context_of["shop.catalog.models"]
    assert context_of["shop.orders.services"] != context_of["shop.catalog.models"]

"""The analyzer on real code: this repository's monolith, and Django's own source tree."""

from __future__ import annotations

from pathlib import Path

import django
import pytest

from analyzer.analysis import analyze
from analyzer.options import AnalyzeOptions

MONOLITH = Path(__file__).resolve().parents[2] / "monolith"


def test_monolith_splits_into_its_four_contexts() -> None:
    doc = analyze(AnalyzeOptions(path=MONOLITH))
    assert {c["name"]: c["apps"] for c in doc["contexts"]} == {
        "inventory": ["inventory"],
        "orders": ["orders"],
        "payments": ["payments"],
        "users": ["users"],
    }
    roles = {a["name"]: a["role"] for a in doc["apps"]}
    assert roles["demo"] == "support"  # the seed app reaches into several apps
    assert roles["monolith.config"] == "project"
    assert doc["skipped"] == []


def test_monolith_crossings_go_through_public_modules() -> None:
    doc = analyze(AnalyzeOptions(path=MONOLITH))
    assert doc["violations"] == []
    targets = {
        e["target"] for p in doc["cross_context"] for e in p["edges"] if e["kind"] == "import"
    }
    assert targets and all(t.endswith(".public") for t in targets)


@pytest.mark.slow
def test_django_source_tree_completes_with_nothing_skipped() -> None:
    tree = Path(django.__file__).parent
    doc = analyze(AnalyzeOptions(path=tree))
    assert doc["skipped"] == []
    assert len(doc["modules"]) > 700
    names = {m["name"] for m in doc["modules"]}
    assert "django.db.models.base" in names and "django.test.testcases" in names
    apps = {a["name"]: a for a in doc["apps"]}
    assert apps["auth"]["package"] == "django.contrib.auth"
    assert len(doc["contexts"]) >= 2
    # admin's models point at the user model through settings.AUTH_USER_MODEL -> "auth.User"
    relations = {(e["source"], e["target"]) for e in doc["edges"] if e["kind"] == "relation"}
    assert ("django.contrib.admin.models", "django.contrib.auth.models") in relations

"""What `make demo` says after each step: only what happened in it, mismatches named with
where to see them all, a write stall explained, headings that fit 80 columns."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from carve.demo_report import heading, step_lines, verdict_lines

WHERE = "http://127.0.0.1:18080/_carve/ui (shadow mismatches)"


def figures(requests: int, errors: int = 0, match: int = 0, mismatch: int = 0) -> dict:
    row = {"requests": requests, "errors": errors, "shadow": {"match": match, "mismatch": mismatch}}
    return {"payments": row, "inventory": row}


MISMATCHES = [
    {"id": n, "method": "GET", "path": f"/api/payments/charges/?page={n}",
     "differences": [f"body $.results[0].status: 'captured' != 'refunded' ({n})"]}
    for n in range(1, 5)
]  # fmt: skip


def test_a_shadow_step_names_its_mismatches_and_where_to_see_them() -> None:
    lines = step_lines(
        figures(0), figures(120, match=40, mismatch=4), MISMATCHES, 0.3, WHERE, handover=False
    )
    text = "\n".join(lines)
    assert "payments: 120 requests in this step, 0 failed" in text
    assert "44 reads also sent to the service and compared: 40 equal" in text
    assert "4 shadow mismatch(es): the service answered a read differently" in text
    assert "#1 GET /api/payments/charges/?page=1: body $.results[0].status" in text
    assert "#4 " not in text  # three examples, and where the rest are
    assert WHERE in text


def test_a_later_step_does_not_repeat_the_shadow_figures() -> None:
    shadow_end = figures(120, match=40, mismatch=4)
    lines = step_lines(
        shadow_end, figures(300, match=40, mismatch=4), [], 0.2, WHERE, handover=True
    )
    assert lines == [
        "  payments: 180 requests in this step, 0 failed",
        "  inventory: 180 requests in this step, 0 failed",
    ]


def test_a_write_stall_during_a_handover_is_explained() -> None:
    moved = step_lines(figures(300), figures(420), [], 9.2, WHERE, handover=True)
    assert any(
        "slowest write took 9.2 s" in line and "waited for the handover" in line for line in moved
    )
    # a slow write in a step that moved nothing is not blamed on a handover
    still = step_lines(figures(300), figures(420), [], 2.0, WHERE, handover=False)
    assert any("took 2.0 s (no handover in this step" in line for line in still)


def test_nothing_lost_says_what_it_checked_and_what_mismatches_were() -> None:
    ok = " ".join(verdict_lines(True, 4))
    assert "every acknowledged charge is in both databases" in ok
    assert "4 shadow mismatch(es) above" in ok and "changed no data" in ok
    assert "nothing was lost" not in " ".join(verdict_lines(False, 0))


def test_every_heading_of_the_demo_fits_80_columns() -> None:
    with pytest.raises(ValueError):
        heading(3, "x" * 80)
    source = Path(__file__).resolve().parents[1] / "carve" / "demo.py"
    calls = [
        node
        for node in ast.walk(ast.parse(source.read_text()))
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "heading"
    ]
    assert len(calls) == 7
    for call in calls:
        number, title = (ast.literal_eval(arg) for arg in call.args)
        assert len(heading(number, title)) <= 78

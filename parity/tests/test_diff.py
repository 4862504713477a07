"""The diff on crafted answers: paths, missing steps, unsettled polls, and a real mismatch
caught and shown in every report format."""

from __future__ import annotations

import json

from parity.diff import compare_runs, differences
from parity.model import Poll, Report, ScenarioResult, Side
from parity.report import render
from parity.tests.builders import observe, run_of

CHARGE = "GET /api/payments/charges/{charge}/"


def test_differences_name_each_path_and_what_is_missing():
    left = {"a": 1, "b": {"c": [1, 2, 3]}, "gone": True, "same": "x"}
    right = {"a": "1", "b": {"c": [1, 5]}, "new": None, "same": "x"}
    found = {(d.path, d.missing): (d.left, d.right) for d in differences(left, right)}
    assert found == {
        ("$.a", ""): (1, "1"),  # a number is not its string
        ("$.b.c[1]", ""): (2, 5),
        ("$.b.c[2]", "right"): (3, None),
        ("$.gone", "right"): (True, None),
        ("$.new", "left"): (None, None),
    }
    assert differences({"x": [1, {"y": 2}]}, {"x": [1, {"y": 2}]}) == []


def _report(results) -> Report:
    report = Report(Side("monolith", "http://m"), Side("extracted", "http://e"))
    report.scenarios = [ScenarioResult("order_declined", "The card is declined.", results)]
    return report


def declined_runs():
    charge = {"id": "591c563a-ee64-4013-aa8c-21fe83ba76ad", "status": "declined", "amount": "9.99"}
    left = run_of(
        "monolith", observe("read the charge", charge, endpoint=CHARGE), scenario="order_declined"
    )
    right = run_of(
        "extracted",
        observe("read the charge", {**charge, "status": "failed"}, endpoint=CHARGE),
        scenario="order_declined",
    )
    return left, right


def test_a_real_mismatch_is_caught_and_shown():
    left, right = declined_runs()
    [step] = compare_runs(left, right)
    assert step.outcome == "mismatched"
    assert [(d.path, d.left, d.right) for d in step.differences] == [
        ("$.body.status", "declined", "failed")
    ]
    assert '-    "status": "declined"' in step.diff_text
    assert '+    "status": "failed"' in step.diff_text

    report = _report([step])
    assert not report.clean and report.exit_code == 1
    text = render(report, "text")
    assert "MISMATCHED order_declined > read the charge" in text
    assert '$.body.status: "declined" -> "failed"' in text
    assert "DIFFERENCES FOUND" in text
    data = json.loads(render(report, "json"))
    assert data["clean"] is False
    assert data["counts"]["mismatched"] == 1
    assert data["endpoints"][CHARGE] == {"mismatched": 1}
    assert data["scenarios"][0]["steps"][0]["differences"][0]["path"] == "$.body.status"


def test_equal_answers_match_and_the_report_is_clean():
    left, _ = declined_runs()
    same, _ = declined_runs()
    [step] = compare_runs(left, same)
    assert step.outcome == "matched" and step.differences == [] and step.diff_text == ""
    report = _report([step])
    assert report.clean and report.exit_code == 0
    assert render(report, "text").rstrip().splitlines()[-1].startswith("CLEAN: 1 scenarios")


def test_a_step_one_side_never_reached_is_missing():
    left = run_of("monolith", observe("first", 1), observe("second", 2))
    right = run_of("extracted", observe("first", 1), observe("third", 3))
    results = compare_runs(left, right)
    assert [(r.step, r.outcome) for r in results] == [
        ("first", "matched"),
        ("second", "missing"),
        ("third", "missing"),
    ]
    assert "extracted never got to this step" in results[1].notes


def test_a_poll_that_never_saw_its_state_is_unsettled_even_when_equal():
    late = Poll("status is refunded", reached=False, attempts=40, seconds=60.0)
    left = run_of("monolith", observe("the charge", {"status": "refunded"}))
    right = run_of("extracted", observe("the charge", {"status": "refunded"}, poll=late))
    [step] = compare_runs(left, right)
    assert step.outcome == "unsettled"
    assert "extracted: never saw 'status is refunded' (40 tries in 60.0 s)" in step.notes

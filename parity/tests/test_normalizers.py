"""Each normaliser on crafted answers: it hides what is noise, and only that."""

from __future__ import annotations

from parity.diff import compare_runs
from parity.normalizers import STRICT
from parity.tests.builders import observe, run_of

ORDER_ID = "3b6aaa30-ae66-4b2e-83a7-0cf09039c9eb"
CHARGE_ID = "591c563a-ee64-4013-aa8c-21fe83ba76ad"
OTHER_ORDER = "0989d8a9-7246-4601-8126-e05759680b90"


def body_of(run, index=0):
    return run.observations[index].compared["body"]


def test_ids_are_named_by_first_appearance_wherever_they_occur():
    run = run_of(
        "monolith",
        observe("order", {"id": ORDER_ID, "payment_id": CHARGE_ID, "user_id": 12, "quantity": 12}),
        observe("charge", {"id": CHARGE_ID, "order_id": ORDER_ID}),
        observe("gone", {"detail": f"No order {ORDER_ID.upper()}."}, status=404),
    )
    assert body_of(run, 0) == {
        "id": "<id:1>",
        "payment_id": "<id:2>",
        "user_id": "<id:3>",
        "quantity": 12,  # not an id: left alone
    }
    assert body_of(run, 1) == {"id": "<id:2>", "order_id": "<id:1>"}
    assert body_of(run, 2) == {"detail": "No order <id:1>."}


def test_a_reference_to_the_wrong_entity_is_still_a_difference():
    left = run_of(
        "monolith",
        observe("order", {"id": ORDER_ID, "payment_id": CHARGE_ID}),
        observe("charge", {"id": CHARGE_ID, "order_id": ORDER_ID}),
    )
    right = run_of(
        "extracted",
        observe("order", {"id": ORDER_ID, "payment_id": CHARGE_ID}),
        observe("charge", {"id": CHARGE_ID, "order_id": OTHER_ORDER}),  # points elsewhere
    )
    results = compare_runs(left, right)
    assert [r.outcome for r in results] == ["matched", "mismatched"]
    assert [d.path for d in results[1].differences] == ["$.body.order_id"]
    assert (results[1].differences[0].left, results[1].differences[0].right) == ("<id:1>", "<id:3>")


def test_timestamps_keep_their_shape():
    run = run_of(
        "monolith",
        observe(
            "times",
            {
                "created_at": "2026-11-24T22:08:26.411663Z",
                "updated_at": "2026-11-24T22:08:26+00:00",
                "day": "2026-11-24",
                "note": "paid at 2026-11-24T22:08:26Z",
            },
        ),
    )
    assert body_of(run) == {
        "created_at": "<timestamp .f Z>",
        "updated_at": "<timestamp +00:00>",
        "day": "2026-11-24",  # a date is data, not a clock reading
        "note": "paid at 2026-11-24T22:08:26Z",  # only whole values are timestamps
    }


def test_hosts_in_links_are_stripped_and_links_elsewhere_are_warned_about():
    own = "http://127.0.0.1:8080"
    run = run_of(
        "monolith",
        observe("page", {"next": f"{own}/api/x/?page=2", "previous": None}),
        observe("leak", {"next": "http://127.0.0.1:8001/api/x/?page=2"}),
        observe("moved", None, status=302, headers={"location": f"{own}/api/y/"}),
        base=own,
    )
    assert body_of(run, 0) == {"next": "/api/x/?page=2", "previous": None}
    assert body_of(run, 1) == {"next": "/api/x/?page=2"}
    assert run.observations[2].compared["headers"] == {"location": "/api/y/"}
    assert run.observations[0].warnings == []
    assert run.observations[1].warnings == [
        "links point at http://127.0.0.1:8001, not at the address the client used "
        "(http://127.0.0.1:8080): a client following them bypasses it"
    ]


def test_tokens_and_run_tags_are_masked():
    run = run_of(
        "monolith",
        observe("login", {"token": "eyJhbGciOi.abc.def", "token_type": "Bearer"}),
        observe(
            "me",
            {"username": "parity-1a2b3c4d-register-alice", "sku": "PARITY-1A2B3C4D-LAMP"},
        ),
        tag="1a2b3c4d",
    )
    assert body_of(run, 0) == {"token": "<token>", "token_type": "Bearer"}
    assert body_of(run, 1) == {
        "username": "parity-<run>-register-alice",
        "sku": "PARITY-<run>-LAMP",
    }


def test_unordered_lists_are_sorted_by_content_and_others_are_not():
    items = [{"sku": "B", "id": ORDER_ID}, {"sku": "A", "id": CHARGE_ID}]
    sorted_run = run_of(
        "monolith", observe("any order", {"results": items}, unordered=("$.body.results",))
    )
    kept_run = run_of("monolith", observe("in order", {"results": items}))
    assert [r["sku"] for r in body_of(sorted_run)["results"]] == ["A", "B"]
    assert [r["sku"] for r in body_of(kept_run)["results"]] == ["B", "A"]


PLACE = "POST /api/orders/"
AT_ONCE = {"type": "conflict", "code": "insufficient_stock", "detail": "Only 5 of SKU-1 available."}
BY_SAGA = {
    "id": OTHER_ORDER,
    "status": "cancelled",
    "cancel_reason": "out_of_stock",
    "payment_id": None,
}


def _refusals(normalizers=None):
    kw = {} if normalizers is None else {"normalizers": normalizers}
    listed = {"count": 1, "results": [{"id": OTHER_ORDER, "status": "cancelled"}]}
    left = run_of(
        "monolith",
        observe("order too much", AT_ONCE, status=409, endpoint=PLACE, kind="place_order"),
        observe("my orders", {"count": 0, "results": []}),
        **kw,
    )
    right = run_of(
        "extracted",
        observe("order too much", BY_SAGA, status=201, endpoint=PLACE, kind="place_order"),
        observe("my orders", listed),
        **kw,
    )
    return compare_runs(left, right)


def test_out_of_stock_at_once_and_by_the_saga_are_the_same_outcome_and_say_so():
    placed, listed = _refusals()
    assert (placed.outcome, listed.outcome) == ("accepted", "accepted")
    assert placed.left.compared == placed.right.compared
    assert any("409 insufficient_stock" in note for note in placed.notes)
    assert any("cancelled(out_of_stock) by the saga" in note for note in placed.notes)
    assert listed.right.compared["body"] == {"count": 0, "results": []}
    assert any("dropped 1 order(s) refused for stock" in note for note in listed.notes)


def test_strict_mode_reports_the_out_of_stock_difference():
    placed, listed = _refusals(STRICT)
    assert (placed.outcome, listed.outcome) == ("mismatched", "mismatched")
    assert placed.differences[0].path == "$.body.cancel_reason"


def test_a_paid_cancellation_is_not_mistaken_for_out_of_stock():
    paid = {**BY_SAGA, "payment_id": CHARGE_ID}
    run = run_of(
        "extracted", observe("order", paid, status=201, endpoint=PLACE, kind="place_order")
    )
    assert run.observations[0].compared["body"]["status"] == "cancelled"
    assert run.observations[0].notes == []


DEBUG_404 = """<!DOCTYPE html><html lang="en"><head><title>Page not found at /api/x/</title></head>
<body><p>Using the URLconf defined in <code>{urlconf}</code>, Django tried these URL patterns:</p>
<footer><p>You&#x27;re seeing this error because you have <code>DEBUG = True</code> in your
Django settings file.</p></footer></body></html>"""


def test_django_debug_pages_compare_by_title_and_are_warned_about():
    html = {"content-type": "text/html"}
    left = run_of(
        "monolith",
        observe(
            "nothing", DEBUG_404.format(urlconf="monolith.config.urls"), status=404, headers=html
        ),
    )
    right = run_of(
        "extracted",
        observe("nothing", DEBUG_404.format(urlconf="payments.urls"), status=404, headers=html),
    )
    [step] = compare_runs(left, right)
    assert step.outcome == "matched"
    assert left.observations[0].compared["body"] == "<Django DEBUG page: Page not found at /api/x/>"
    assert "the server runs with DEBUG on" in step.warnings[0]


def test_request_ids_are_named_and_a_dashless_id_is_the_same_id():
    left = run_of(
        "monolith",
        observe("gone", {"type": "not_found", "request_id": "bef9130dd72ff9320000000000000dcc"}),
        observe("order", {"id": ORDER_ID, "ref_id": ORDER_ID.replace("-", "")}, status=200),
    )
    right = run_of(
        "extracted",
        observe("gone", {"type": "not_found", "request_id": "bef9130dd72ff9320000000000000ec0"}),
        observe("order", {"id": ORDER_ID, "ref_id": OTHER_ORDER.replace("-", "")}, status=200),
    )
    assert body_of(left, 0) == {"type": "not_found", "request_id": "<id:1>"}
    assert body_of(left, 1) == {"id": "<id:2>", "ref_id": "<id:2>"}
    results = compare_runs(left, right)
    assert [r.outcome for r in results] == ["matched", "mismatched"]
    assert [d.path for d in results[1].differences] == ["$.body.ref_id"]

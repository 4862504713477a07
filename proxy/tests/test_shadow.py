"""Shadow mode: mirrored off the serving path, compared canonically, noise learned."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from proxy.app import SHADOW
from proxy.compare import Answer, NoiseBaseline, differences
from proxy.tests.conftest import TOKEN, Fake, Proxy, ProxyFactory, metric

Trio = tuple[Fake, Fake, Fake]
JSON = {"Content-Type": "application/json"}
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def answer(body: bytes, status: int = 200, **headers: str) -> Answer:
    return Answer(status, {**JSON, **headers}, body)


def test_json_bodies_compare_as_values() -> None:
    a = answer(b'{"a": 1, "b": [1, 2], "c": {"d": "x"}}')
    b = answer(b'{"c":{"d":"x"},"b":[1,2],"a":1}')
    assert differences(a, b, headers=("content-type",)) == []


def test_differences_are_named_by_generalised_paths() -> None:
    a = answer(b'{"items": [{"id": 1, "at": "t1"}, {"id": 2, "at": "t2"}], "n": 2}')
    b = answer(b'{"items": [{"id": 1, "at": "t9"}, {"id": 2, "at": "t8"}], "n": 2, "x": 0}')
    assert differences(a, b, headers=()) == ["body $.items[*].at", "body $.x"]
    assert differences(a, b, headers=(), ignore=("$.items[*].at", "$.x")) == []
    assert differences(a, b, headers=(), ignore=("*.at", "$.*")) == []


def test_status_and_chosen_headers_are_compared() -> None:
    a = answer(b"{}", 200, Location="/a")
    b = Answer(201, {"Content-Type": "application/json; charset=utf-8", "Location": "/b"}, b"{}")
    found = differences(a, b, headers=("content-type", "location"))
    assert found == ["status 200 != 201", "header location: '/a' != '/b'"]
    assert differences(a, b, headers=("location",), ignore=("header:location",)) == [
        "status 200 != 201"
    ]


def test_bodies_that_are_not_json_compare_as_bytes() -> None:
    assert differences(answer(b"<p>a"), answer(b"<p>b"), headers=()) == [
        "body $ (not JSON) differs"
    ]
    assert differences(answer(b"<p>a"), answer(b"<p>a"), headers=()) == []


def test_the_baseline_learns_fields_that_differ_on_the_same_side() -> None:
    baseline = NoiseBaseline(samples=2)
    first = answer(b'{"id": 1, "request_id": "r1"}', Date="Mon")
    again = answer(b'{"id": 1, "request_id": "r2"}', Date="Tue")
    assert baseline.learning("payments")
    baseline.learn("payments", first, again, headers=("date",))
    baseline.learn("payments", first, again, headers=("date",))
    assert not baseline.learning("payments")
    assert baseline.rules("payments") == ("$.request_id", "header:date")


WAIT_SECONDS = 20  # an upper bound for a loaded machine; the wait ends when the count is there


async def wait_for(proxy: Proxy, outcome: str, count: int, route: str = "payments") -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while await metric(proxy, "carve_proxy_shadow_total", route=route, outcome=outcome) < count:
        assert time.monotonic() < deadline, f"no {count} shadow {outcome} in {WAIT_SECONDS} s"
        await asyncio.sleep(0.02)


async def test_gets_are_mirrored_off_the_serving_path_and_compared(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    monolith, payments, _ = trio
    # a mismatch is re-checked once after settle_seconds before it counts: keep that short
    proxy = await make_proxy(*trio, shadow={"baseline_samples": 0, "settle_seconds": 0.1})
    await proxy.set_state("payments", "shadow")
    started = time.monotonic()
    response = await proxy.client.get("/api/payments/charges/?delay=2&only=payments")
    assert time.monotonic() - started < 1.5  # the client never waits for the service
    assert (await response.json())["upstream"] == "monolith"
    await wait_for(proxy, "mismatch", 1)  # the fakes name themselves: bodies differ
    assert [r["method"] for r in payments.seen] == ["GET", "GET"]  # compared, then re-checked

    response = await proxy.client.post("/api/payments/charges/", data=b"{}")
    assert (await response.json())["upstream"] == "monolith"
    assert [r["method"] for r in payments.seen] == ["GET", "GET"]  # writes are never mirrored
    assert monolith.seen[-1]["method"] == "POST"


async def test_matching_answers_count_as_matches(trio: Trio, make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy(
        *trio, shadow={"baseline_samples": 0, "ignore": ["$.upstream", "$.headers.*", "$.path"]}
    )
    await proxy.set_state("payments", "shadow")
    for _ in range(3):
        await proxy.client.get("/api/payments/charges/")
    await wait_for(proxy, "match", 3)
    assert (
        await metric(proxy, "carve_proxy_shadow_total", route="payments", outcome="mismatch") == 0
    )


async def test_a_difference_that_goes_away_is_converged_not_a_mismatch(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    # The service's first answer differs (a replica a moment behind), the next agrees.
    shadow = {"baseline_samples": 0, "settle_seconds": 0.1, "ignore": ["$.*"]}
    proxy = await make_proxy(*trio, shadow=shadow)
    await proxy.set_state("payments", "shadow")
    await proxy.client.get("/api/payments/charges/?fail=1&only=payments")
    await wait_for(proxy, "converged", 1)
    assert (
        await metric(proxy, "carve_proxy_shadow_total", route="payments", outcome="mismatch") == 0
    )
    kept = await (await proxy.client.get("/_carve/api/mismatches", headers=AUTH)).json()
    assert kept["mismatches"] == []


async def test_redirects_from_both_sides_to_the_same_path_match(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    proxy = await make_proxy(*trio, shadow={"baseline_samples": 0})
    await proxy.set_state("payments", "shadow")
    await proxy.client.get("/api/payments/x?redirect=/api/payments/y", allow_redirects=False)
    await wait_for(proxy, "match", 1)


async def test_mismatches_are_kept_with_the_request_and_can_be_replayed(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    proxy = await make_proxy(*trio, shadow={"baseline_samples": 0})
    await proxy.set_state("payments", "shadow")
    secrets = {"X-Carve-Token": "t0k3n", "X-Api-Key": "k3y", "X-Session": "s3ss"}
    await proxy.client.get(
        "/api/payments/charges/?page=2",
        headers={"Authorization": "Bearer user-secret", "Accept": "application/json", **secrets},
    )
    await wait_for(proxy, "mismatch", 1)
    kept = (await (await proxy.client.get("/_carve/api/mismatches", headers=AUTH)).json())[
        "mismatches"
    ]
    assert len(kept) == 1
    mismatch = kept[0]
    assert (mismatch["method"], mismatch["path"]) == ("GET", "/api/payments/charges/?page=2")
    assert mismatch["headers"]["Authorization"] == "<redacted>"
    assert all(mismatch["headers"][name] == "<redacted>" for name in secrets)  # an allow-list
    assert mismatch["headers"]["Accept"] == "application/json"
    assert "body $.upstream" in mismatch["differences"]

    replayed = await proxy.client.post(
        f"/_carve/api/mismatches/{mismatch['id']}/replay", headers=AUTH
    )
    assert replayed.status == 200
    replays = (await replayed.json())["replays"]
    assert len(replays) == 2  # the check after settle_seconds, then this replay
    assert "body $.upstream" in replays[-1]
    assert trio[1].seen[-1]["headers"]["Authorization"] == "Bearer user-secret"


async def test_the_aa_baseline_learns_noise_before_comparing(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    proxy = await make_proxy(
        *trio,
        shadow={"baseline_samples": 3, "ignore": ["$.upstream", "$.headers.*", "$.path"]},
    )
    await proxy.set_state("payments", "shadow")
    for _ in range(6):  # every answer carries a counter that differs each time
        await proxy.client.get("/api/payments/x?noise=1")
    await wait_for(proxy, "match", 4)
    shadow = proxy.app[SHADOW]
    assert "$.noise" in shadow.baseline.rules("payments")
    assert sum(1 for r in trio[0].seen if r["method"] == "GET") == 6 + 3  # A, and A' x3


@pytest.mark.parametrize(
    ("shadow", "query", "outcome"),
    [
        ({"sample_rate": 0.0}, "", None),
        ({"max_body_bytes": 100}, "", "skipped"),
        ({"max_body_bytes": 100}, "?size=100000", "skipped"),
    ],
)
async def test_sampling_and_the_body_cap(
    trio: Trio, make_proxy: ProxyFactory, shadow: dict[str, Any], query: str, outcome: str | None
) -> None:
    proxy = await make_proxy(*trio, shadow={"baseline_samples": 0, **shadow})
    await proxy.set_state("payments", "shadow")
    for _ in range(3):
        assert (await proxy.client.get(f"/api/payments/x{query}")).status == 200
    if outcome is None:
        assert not trio[1].seen
    else:
        await wait_for(proxy, outcome, 3)


async def test_the_mirror_concurrency_cap_drops_samples(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    proxy = await make_proxy(*trio, shadow={"baseline_samples": 0, "max_concurrency": 1})
    await proxy.set_state("payments", "shadow")
    await proxy.client.get("/api/payments/x?delay=1&only=payments")
    for _ in range(3):
        await proxy.client.get("/api/payments/x")
    assert await metric(proxy, "carve_proxy_shadow_total", route="payments", outcome="dropped") == 3
    await wait_for(proxy, "mismatch", 1)

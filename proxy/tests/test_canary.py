"""The sticky canary: a stable cohort from the user id in a signed token, else a cookie."""

from __future__ import annotations

import pytest
from django.core import signing

from proxy.identity import TokenReader, bucket
from proxy.tests.conftest import Fake, ProxyFactory

Trio = tuple[Fake, Fake, Fake]
KEY = "test-auth-key-for-the-canary"


def token(uid: int, key: str = KEY) -> str:
    """A token exactly as servicekit/tokens.py issues it."""
    signer = signing.TimestampSigner(key=key, salt="carve.auth.v1")
    return signer.sign_object({"uid": uid, "usr": f"user{uid}", "stf": False})


def test_the_user_id_is_read_from_a_django_signed_token() -> None:
    reader = TokenReader(KEY)
    assert reader.user_id(f"Bearer {token(42)}") == "42"
    assert reader.user_id(f"bearer {token(7)}") == "7"


def test_a_long_payload_compressed_by_django_is_read_too() -> None:
    signer = signing.TimestampSigner(key=KEY, salt="carve.auth.v1")
    signed = signer.sign_object({"uid": 9, "usr": "u" * 500, "stf": False}, compress=True)
    assert signed.startswith(".")
    assert TokenReader(KEY).user_id(f"Bearer {signed}") == "9"


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-token",
        f"Bearer {token(42, key='another-key')}",
        f"Bearer {token(42)[:-2]}xx",
        "Bearer " + token(42).replace(token(42).split(":")[0], token(43).split(":")[0]),
    ],
)
def test_an_unverifiable_token_gives_no_user(authorization: str | None) -> None:
    assert TokenReader(KEY).user_id(authorization) is None


def test_without_a_key_the_payload_is_read_unverified() -> None:
    assert TokenReader(None).user_id(f"Bearer {token(5, key='whatever')}") == "5"


def test_buckets_are_stable_and_spread() -> None:
    assert bucket("user:1") == bucket("user:1")
    counts = [0] * 10
    for uid in range(5000):
        counts[bucket(f"user:{uid}") // 10] += 1
    assert min(counts) > 400  # roughly 500 each


async def test_the_same_user_always_lands_on_the_same_side(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    proxy = await make_proxy(*trio, auth_key=KEY)
    await proxy.set_state("payments", "canary 30")
    sides: dict[int, set[str]] = {}
    for uid in range(60):
        headers = {"Authorization": f"Bearer {token(uid)}"}
        for _ in range(3):
            response = await proxy.client.get("/api/payments/charges/", headers=headers)
            sides.setdefault(uid, set()).add((await response.json())["upstream"])
            assert "Set-Cookie" not in response.headers  # the user id is enough
    assert all(len(s) == 1 for s in sides.values())
    on_service = {uid for uid, s in sides.items() if s == {"payments"}}
    assert on_service == {uid for uid in range(60) if bucket(f"user:{uid}") < 30}
    assert 0 < len(on_service) < 60


async def test_anonymous_clients_get_a_cohort_cookie_and_keep_their_side(
    trio: Trio, make_proxy: ProxyFactory
) -> None:
    proxy = await make_proxy(*trio, auth_key=KEY)
    await proxy.set_state("payments", "canary 50")
    first = await proxy.client.get("/api/payments/charges/")
    cookie = first.cookies["carve_cohort"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    side = (await first.json())["upstream"]
    assert side == ("payments" if bucket(f"cookie:{cookie.value}") < 50 else "monolith")
    for _ in range(5):  # the test client sends the cookie back
        again = await proxy.client.get("/api/payments/charges/")
        assert (await again.json())["upstream"] == side
        assert "Set-Cookie" not in again.headers


async def test_canary_100_is_everyone(trio: Trio, make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy(*trio, auth_key=KEY)  # canary 0 is refused: test_attacks.py
    for percent, side in ((100, "payments"),):
        await proxy.set_state("payments", f"canary {percent}")
        for uid in range(20):
            headers = {"Authorization": f"Bearer {token(uid)}"}
            response = await proxy.client.get("/api/payments/", headers=headers)
            assert (await response.json())["upstream"] == side

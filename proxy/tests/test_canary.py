"""The sticky canary: a stable cohort from the user id in a signed token, else a cookie."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from proxy.identity import TokenReader, bucket
from proxy.tests.conftest import Fake, ProxyFactory

Trio = tuple[Fake, Fake, Fake]
SIGNING = Ed25519PrivateKey.generate()
OTHER = Ed25519PrivateKey.generate()


def public_pem(private: Ed25519PrivateKey) -> str:
    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


KEY = public_pem(SIGNING)


def token(uid: int, key: Ed25519PrivateKey = SIGNING, **claims: object) -> str:
    """A token shaped as servicekit/tokens.py issues it."""
    now = int(time.time())
    payload = {"sub": str(uid), "usr": f"user{uid}", "stf": False, "iat": now, "exp": now + 60}
    return jwt.encode({**payload, **claims}, key, algorithm="EdDSA", headers={"kid": "k"})


def test_the_user_id_is_read_from_a_signed_token() -> None:
    reader = TokenReader(KEY)
    assert reader.user_id(f"Bearer {token(42)}") == "42"
    assert reader.user_id(f"bearer {token(7)}") == "7"


def test_any_of_several_keys_verifies_during_a_rotation() -> None:
    reader = TokenReader(public_pem(OTHER) + KEY.replace("\n", "\\n"))
    assert reader.user_id(f"Bearer {token(3)}") == "3"
    assert reader.user_id(f"Bearer {token(4, key=OTHER)}") == "4"


def test_an_expired_token_still_names_its_user_for_the_cohort() -> None:
    assert TokenReader(KEY).user_id(f"Bearer {token(8, exp=int(time.time()) - 60)}") == "8"


def hs256_with_the_public_key(uid: int) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = (
        b64(json.dumps({"alg": "HS256"}).encode())
        + "."
        + b64(json.dumps({"sub": str(uid)}).encode())
    )
    return f"{head}.{b64(hmac.new(KEY.encode(), head.encode(), hashlib.sha256).digest())}"


def forged(uid: int) -> str:
    header, _, signature = token(uid).split(".")
    return f"{header}.{token(uid + 1).split('.')[1]}.{signature}"


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-token",
        f"Bearer {token(42, key=OTHER)}",
        f"Bearer {token(42)[:-2]}xx",
        f"Bearer {forged(42)}",
        f"Bearer {hs256_with_the_public_key(42)}",
    ],
)
def test_an_unverifiable_token_gives_no_user(authorization: str | None) -> None:
    assert TokenReader(KEY).user_id(authorization) is None


def test_without_a_key_the_payload_is_read_unverified() -> None:
    assert TokenReader(None).user_id(f"Bearer {token(5, key=OTHER)}") == "5"


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

"""Tokens: only the identity key signs them, and a user's access change revokes the old ones."""

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from messaging.models import OutboxMessage
from monolith.conftest import token_for
from servicekit import keys
from servicekit.tokens import InvalidToken, token_verify

pytestmark = pytest.mark.django_db

STAFF_ONLY = "/api/inventory/reservations/"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_for(user, **overrides):
    now = int(time.time())
    return {
        "iss": "carve-identity",
        "sub": str(user.pk),
        "usr": user.username,
        "stf": True,
        "ver": user.token_version,
        "typ": "access",
        "iat": now,
        "exp": now + 300,
        **overrides,
    }


def real_kid() -> str:
    return next(iter(keys.load_publics(settings.CARVE_AUTH_PUBLIC_KEYS)))


def unsigned(header: dict, payload: dict) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"


def answer(token: str, path: str = STAFF_ONLY):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get(path)


def test_a_real_staff_token_is_accepted(make_user):
    staff = make_user(is_staff=True)
    assert answer(token_for(staff)).status_code == 200


def test_a_token_signed_with_the_old_development_hmac_key_is_refused(make_user):
    """The key that used to be written in servicekit/env.py signs nothing any more."""
    user = make_user()
    forged = signing.TimestampSigner(
        key="carve-insecure-dev-shared-carve_auth_key", salt="carve.auth.v1"
    ).sign_object({"uid": user.pk, "usr": user.username, "stf": True})
    assert answer(forged).status_code == 401


def test_a_token_signed_by_another_key_is_refused_even_naming_the_real_kid(make_user):
    user = make_user()
    forged = jwt.encode(
        claims_for(user),
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"kid": real_kid()},
    )
    assert answer(forged).status_code == 401
    with pytest.raises(InvalidToken):
        token_verify(token=forged)


def test_alg_none_is_refused(make_user):
    user = make_user()
    forged = unsigned({"alg": "none", "typ": "JWT", "kid": real_kid()}, claims_for(user)) + "."
    assert answer(forged).status_code == 401


def test_hs256_signed_with_the_public_key_is_refused(make_user):
    """The classic confusion: the public key (which anyone may have) used as an HMAC secret."""
    user = make_user()
    head = unsigned({"alg": "HS256", "typ": "JWT", "kid": real_kid()}, claims_for(user))
    for secret in (settings.CARVE_AUTH_PUBLIC_KEYS, settings.CARVE_AUTH_PUBLIC_KEYS.strip()):
        mac = hmac.new(secret.encode(), head.encode(), hashlib.sha256).digest()
        assert answer(f"{head}.{b64(mac)}").status_code == 401


def test_a_tampered_token_is_refused(make_user):
    user = make_user()
    header, payload, signature = token_for(user).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["stf"] = True
    forged = f"{header}.{b64(json.dumps(claims).encode())}.{signature}"
    assert answer(forged).status_code == 401


def test_a_refresh_token_is_not_an_access_token(anon, make_user):
    make_user(username="rita", password="right-password")
    login = anon.post(
        "/api/users/token/", {"username": "rita", "password": "right-password"}, format="json"
    )
    assert answer(login.json()["refresh"], "/api/users/me/").status_code == 401
    assert answer(login.json()["access"], "/api/users/me/").status_code == 200


def test_an_expired_token_is_refused(make_user, settings):
    user = make_user()
    settings.CARVE_AUTH_ACCESS_TTL = -1
    token = token_for(user)
    with pytest.raises(InvalidToken, match="expired"):
        token_verify(token=token)
    assert answer(token, "/api/users/me/").status_code == 401


def test_token_verification_needs_no_database(user):
    token = token_for(user)
    with CaptureQueriesContext(connection) as queries:
        claims = token_verify(token=token)
    assert claims.user_id == user.pk and claims.username == user.username
    assert len(queries) == 0


# ------------------------------------------------------------------ revocation


def deactivate(user):
    user.is_active = False
    user.save()


def demote(user):
    user.is_staff = False
    user.save(update_fields=["is_staff"])


def change_password(user):
    user.set_password("another-long-passphrase")
    user.save()


def delete(user):
    user.delete()


@pytest.mark.parametrize("change", [deactivate, demote, change_password, delete])
def test_an_access_change_revokes_the_tokens_issued_before(make_user, change):
    staff = make_user(is_staff=True)
    user_id = staff.pk
    token = token_for(staff)
    assert answer(token).status_code == 200

    change(staff)

    refused = answer(token)
    assert refused.status_code == 401
    assert refused.json()["type"] == "authentication_failed"
    event = OutboxMessage.objects.get(event_type="users.UserAccessChanged")
    assert event.sequence == 2 and event.aggregate_id == str(user_id)


def test_an_unrelated_change_keeps_the_tokens(make_user):
    user = make_user()
    token = token_for(user)
    user.first_name = "Ada"
    user.save()
    assert answer(token, "/api/users/me/").status_code == 200
    assert not OutboxMessage.objects.filter(event_type="users.UserAccessChanged").exists()


def test_changing_the_password_answers_a_new_pair_and_ends_the_old_one(anon, make_user):
    make_user(username="pia", password="first-long-passphrase")
    old = anon.post(
        "/api/users/token/", {"username": "pia", "password": "first-long-passphrase"}, format="json"
    ).json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {old['access']}")
    wrong = client.post(
        "/api/users/me/password/",
        {"old_password": "nope", "new_password": "second-long-passphrase"},
        format="json",
    )
    assert wrong.status_code == 400 and "old_password" in wrong.json()["errors"]

    changed = client.post(
        "/api/users/me/password/",
        {"old_password": "first-long-passphrase", "new_password": "second-long-passphrase"},
        format="json",
    )
    assert changed.status_code == 200
    assert answer(old["access"], "/api/users/me/").status_code == 401
    assert answer(changed.json()["access"], "/api/users/me/").status_code == 200
    stale = anon.post("/api/users/token/refresh/", {"refresh": old["refresh"]}, format="json")
    assert stale.status_code == 401


def test_refresh_gives_a_new_pair_until_the_user_is_deactivated(anon, make_user):
    user = make_user(username="rex", password="right-password")
    login = anon.post(
        "/api/users/token/", {"username": "rex", "password": "right-password"}, format="json"
    ).json()
    assert login["expires_in"] == settings.CARVE_AUTH_ACCESS_TTL

    refreshed = anon.post("/api/users/token/refresh/", {"refresh": login["refresh"]}, format="json")
    assert refreshed.status_code == 200
    assert answer(refreshed.json()["access"], "/api/users/me/").status_code == 200
    wrong_kind = anon.post("/api/users/token/refresh/", {"refresh": login["access"]}, format="json")
    assert wrong_kind.status_code == 401

    deactivate(user)
    refused = anon.post(
        "/api/users/token/refresh/", {"refresh": refreshed.json()["refresh"]}, format="json"
    )
    assert refused.status_code == 401


def refresh_with(anon, refresh):
    return anon.post("/api/users/token/refresh/", {"refresh": refresh}, format="json")


def test_a_refresh_token_is_good_for_one_refresh_and_reuse_revokes_the_users_tokens(
    anon, make_user
):
    make_user(username="rita", password="right-password")
    login = anon.post(
        "/api/users/token/", {"username": "rita", "password": "right-password"}, format="json"
    ).json()
    first = refresh_with(anon, login["refresh"])
    assert first.status_code == 200
    assert first.json()["refresh"] != login["refresh"]
    second = refresh_with(anon, first.json()["refresh"])  # the rotated one works, once
    assert second.status_code == 200

    reused = refresh_with(anon, login["refresh"])  # a copy of a spent token: stolen
    assert reused.status_code == 401
    assert "already used" in reused.json()["detail"]
    # the whole account is revoked: the thief's and the owner's latest tokens alike
    assert refresh_with(anon, second.json()["refresh"]).status_code == 401
    assert answer(second.json()["access"], "/api/users/me/").status_code == 401
    relogin = anon.post(
        "/api/users/token/", {"username": "rita", "password": "right-password"}, format="json"
    )
    assert relogin.status_code == 200
    assert answer(relogin.json()["access"], "/api/users/me/").status_code == 200
    assert OutboxMessage.objects.filter(event_type="users.UserAccessChanged").exists()


def pem_pair():
    from cryptography.hazmat.primitives import serialization

    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return private_pem, keys.public_pem(private_pem)


def test_rotation_old_tokens_pass_while_their_key_is_listed(make_user, settings):
    user = make_user()
    old_token = token_for(user)
    new_private, new_public = pem_pair()
    old_public = settings.CARVE_AUTH_PUBLIC_KEYS
    settings.CARVE_AUTH_PRIVATE_KEY = new_private
    settings.CARVE_AUTH_PUBLIC_KEYS = new_public + old_public
    new_token = token_for(user)
    assert (
        jwt.get_unverified_header(new_token)["kid"] != jwt.get_unverified_header(old_token)["kid"]
    )
    assert answer(old_token, "/api/users/me/").status_code == 200
    assert answer(new_token, "/api/users/me/").status_code == 200

    settings.CARVE_AUTH_PUBLIC_KEYS = new_public  # the old key retired
    assert answer(old_token, "/api/users/me/").status_code == 401
    assert answer(new_token, "/api/users/me/").status_code == 200


def test_the_admin_shows_the_token_version_and_revokes_on_deactivation(client, make_user):
    admin = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    user = make_user()
    token = token_for(user)
    client.force_login(admin)
    page = client.get(f"/admin/users/user/{user.pk}/change/")
    assert page.status_code == 200 and "Token version" in page.content.decode()
    form = {
        "username": user.username,
        "email": user.email,
        "is_staff": "",
        "is_active": "",  # unticked: deactivated
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    changed = client.post(f"/admin/users/user/{user.pk}/change/", form)
    assert changed.status_code == 302, changed.content.decode()[:2000]
    assert answer(token, "/api/users/me/").status_code == 401


def _pem(key: Ed25519PrivateKey) -> str:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_the_local_public_key_is_always_the_winning_private_keys(tmp_path, monkeypatch):
    """Processes of a new stack make the local key pair at once: the one that loses the race
    for private.pem must not write its own draft's public half (CI saw a stack refuse to
    seed with 'CARVE_AUTH_PRIVATE_KEY does not match any key of CARVE_AUTH_PUBLIC_KEYS')."""
    monkeypatch.setenv("CARVE_VAR_DIR", str(tmp_path))
    winner = _pem(Ed25519PrivateKey.generate())
    real_link = keys.os.link

    def another_process_was_first(source, target):
        (tmp_path / "auth" / "private.pem").write_text(winner)
        raise FileExistsError(target)

    monkeypatch.setattr(keys.os, "link", another_process_was_first)
    assert keys.development_private_key() == winner
    monkeypatch.setattr(keys.os, "link", real_link)
    public = (tmp_path / "auth" / "public.pem").read_text()
    assert public == keys.public_pem(winner)
    keys.check_pair(winner, public)
    # a public half left behind by such a race is put right by the next process
    (tmp_path / "auth" / "public.pem").write_text(
        keys.public_pem(_pem(Ed25519PrivateKey.generate()))
    )
    keys.development_private_key()
    assert (tmp_path / "auth" / "public.pem").read_text() == keys.public_pem(winner)

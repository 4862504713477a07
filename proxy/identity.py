"""Who is asking, for the sticky canary: the user id in a bearer token, else a cookie.

Tokens are issued by the monolith with django.core.signing's TimestampSigner
(salt "carve.auth.v1"): `base64url(json) ":" timestamp ":" base64url(hmac)`. The proxy
must not import Django, so it reads the payload itself and, when CARVE_AUTH_KEY is
configured, checks the HMAC the way Django computes it. Expiry is not checked: the
cohort only needs a stable identity; the services still reject an expired token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import zlib

TOKEN_SALT = "carve.auth.v1"


class TokenReader:
    """Reads the user id from a bearer token; None when absent or not verifiable."""

    def __init__(self, auth_key: str | None) -> None:
        # Django's salted_hmac: key = sha256(salt + "signer" + secret)
        self._key = (
            hashlib.sha256(f"{TOKEN_SALT}signer{auth_key}".encode()).digest() if auth_key else None
        )

    def user_id(self, authorization: str | None) -> str | None:
        if not authorization or authorization[:7].lower() != "bearer ":
            return None
        token = authorization[7:].strip()
        value, _, signature = token.rpartition(":")
        payload, _, timestamp = value.rpartition(":")
        if not (payload and timestamp and signature):
            return None
        if self._key is not None:
            digest = hmac.new(self._key, value.encode(), hashlib.sha256).digest()
            expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if not hmac.compare_digest(expected, signature):
                return None
        try:
            data = _b64decode(payload.removeprefix("."))
            if payload.startswith("."):
                data = zlib.decompress(data)
            uid = json.loads(data)["uid"]
        except (ValueError, KeyError, TypeError, zlib.error):
            return None
        return str(uid)


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def bucket(identity: str) -> int:
    """A stable number 0..99 for an identity: the same user always gets the same one."""
    digest = hashlib.blake2b(identity.encode(), digest_size=8, person=b"carve.cohort").digest()
    return int.from_bytes(digest, "big") % 100


def new_cohort_cookie() -> str:
    return secrets.token_urlsafe(12)

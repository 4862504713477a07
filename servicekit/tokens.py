"""Signed bearer tokens: issued by the monolith, verified by every service offline.

A token is the user's claims signed with HMAC-SHA256 (django.core.signing) under a key
shared through the environment (CARVE_AUTH_KEY), so any service can check it without a
call back and without a database read.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing

SALT = "carve.auth.v1"


class InvalidToken(Exception):
    """The token is malformed, tampered with, signed with another key, or expired."""


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    username: str
    is_staff: bool


def _key() -> str:
    return str(settings.CARVE_AUTH_KEY)


def token_issue(*, claims: TokenClaims) -> str:
    payload = {"uid": claims.user_id, "usr": claims.username, "stf": claims.is_staff}
    return signing.TimestampSigner(key=_key(), salt=SALT).sign_object(payload)


def token_verify(*, token: str, max_age: int | None = None) -> TokenClaims:
    signer = signing.TimestampSigner(key=_key(), salt=SALT)
    ttl = settings.CARVE_AUTH_TOKEN_TTL if max_age is None else max_age
    try:
        payload = signer.unsign_object(token, max_age=ttl)
        return TokenClaims(
            user_id=int(payload["uid"]), username=str(payload["usr"]), is_staff=bool(payload["stf"])
        )
    except signing.SignatureExpired:
        raise InvalidToken("token has expired; log in again") from None
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise InvalidToken("token is not valid") from None

"""Bearer tokens (JWT, PyJWT): issued by the monolith, verified by every service offline.

The monolith signs with its Ed25519 private key (EdDSA) and names the key in the header
(`kid`); a service verifies with the public keys it was given (servicekit.keys) and
accepts no other algorithm, so neither `alg: none` nor an HMAC signed with a public key
passes. Two kinds: a short-lived access token, sent on every request, and a refresh
token, which only the monolith takes back (POST /api/users/token/refresh/) for a new
pair. Each token has its own id (`jti`): the monolith spends a refresh token's id when it
answers a new pair for it, so one refresh token is good for one refresh. `ver` is the
user's token version: whatever ends a user's access (password, active or staff state,
deletion) raises it, and older tokens are refused
(servicekit.useraccess).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from servicekit import keys

ALGORITHM = "EdDSA"
ISSUER = "carve-identity"
ACCESS = "access"
REFRESH = "refresh"
REQUIRED_CLAIMS = ["exp", "iat", "iss", "sub", "typ", "ver", "usr", "stf"]


class InvalidToken(Exception):
    """The token is malformed, tampered with, signed with another key, or expired."""


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    username: str
    is_staff: bool
    version: int = 1
    token_id: str = ""  # `jti`: made by token_issue, read by token_verify


@lru_cache(maxsize=4)
def _signing_key(pem: str) -> tuple[str, Ed25519PrivateKey]:
    private = keys.load_private(pem)
    return keys.key_id(private.public_key()), private


@lru_cache(maxsize=4)
def _verifying_keys(pems: str) -> dict[str, Ed25519PublicKey]:
    return keys.load_publics(pems)


def lifetime(kind: str) -> int:
    """Seconds a token of `kind` stays valid."""
    if kind == REFRESH:
        return int(settings.CARVE_AUTH_REFRESH_TTL)
    return int(settings.CARVE_AUTH_ACCESS_TTL)


def token_issue(*, claims: TokenClaims, kind: str = ACCESS) -> str:
    """Sign `claims` (the identity side only: it alone holds a private key)."""
    pem = getattr(settings, "CARVE_AUTH_PRIVATE_KEY", None)
    if not pem:
        raise ImproperlyConfigured("only the identity side (the monolith) issues tokens")
    kid, private = _signing_key(pem)
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "sub": str(claims.user_id),
        "usr": claims.username,
        "stf": claims.is_staff,
        "ver": claims.version,
        "typ": kind,
        "iat": now,
        "exp": now + lifetime(kind),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(payload, private, algorithm=ALGORITHM, headers={"kid": kid})


def token_verify(*, token: str, kind: str = ACCESS) -> TokenClaims:
    """The claims of a token of `kind` signed by a known identity key, not expired."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        key = _verifying_keys(settings.CARVE_AUTH_PUBLIC_KEYS).get(str(kid))
        if key is None:
            raise InvalidToken("token is not signed by a known key")
        payload = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": REQUIRED_CLAIMS},
        )
        if payload["typ"] != kind:
            raise InvalidToken(f"expected a token of type {kind!r}")
        return TokenClaims(
            user_id=int(payload["sub"]),
            username=str(payload["usr"]),
            is_staff=payload["stf"] is True,
            version=int(payload["ver"]),
            token_id=str(payload.get("jti") or ""),
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("token has expired; refresh it or log in again") from None
    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
        raise InvalidToken("token is not valid") from None

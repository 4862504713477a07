"""Who is asking, for the sticky canary: the user id in a bearer token, else a cookie.

Tokens are JWTs the monolith signs with its Ed25519 key (EdDSA). The proxy must not
import Django, so it reads them with PyJWT itself: when the public keys are configured
(CARVE_AUTH_PUBLIC_KEYS, PEM) the signature is checked, else the payload is read as it
is. Expiry and revocation are not checked: the cohort only needs a stable identity; the
services still refuse an expired or revoked token.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

PEM_END = "-----END PUBLIC KEY-----"
ALGORITHMS = ["EdDSA"]


class TokenReader:
    """Reads the user id from a bearer token; None when absent or not verifiable."""

    def __init__(self, auth_key: str | None) -> None:
        self._keys: list[Ed25519PublicKey] | None = None
        if auth_key:
            text = auth_key.replace("\\n", "\n")
            blocks = [f"{b.strip()}\n{PEM_END}\n" for b in text.split(PEM_END) if b.strip()]
            try:
                loaded = [load_pem_public_key(block.encode()) for block in blocks]
            except ValueError:
                raise ValueError(
                    "CARVE_AUTH_PUBLIC_KEYS holds a block that is not a PEM public key"
                ) from None
            self._keys = [key for key in loaded if isinstance(key, Ed25519PublicKey)]

    def user_id(self, authorization: str | None) -> str | None:
        if not authorization or authorization[:7].lower() != "bearer ":
            return None
        token = authorization[7:].strip()
        claims: dict[str, Any] | None
        try:
            if self._keys is None:
                claims = jwt.decode(token, options={"verify_signature": False})
            else:
                claims = self._verified(token)
        except jwt.PyJWTError:
            return None
        subject = claims.get("sub") if claims else None
        return subject if isinstance(subject, str) and subject else None

    def _verified(self, token: str) -> dict[str, Any] | None:
        for key in self._keys or []:
            try:
                return dict(
                    jwt.decode(token, key, algorithms=ALGORITHMS, options={"verify_exp": False})
                )
            except jwt.InvalidSignatureError:
                continue
        return None


def bucket(identity: str) -> int:
    """A stable number 0..99 for an identity: the same user always gets the same one."""
    digest = hashlib.blake2b(identity.encode(), digest_size=8, person=b"carve.cohort").digest()
    return int.from_bytes(digest, "big") % 100


def new_cohort_cookie() -> str:
    return secrets.token_urlsafe(12)

"""The identity keys: the monolith (the identity side) signs tokens with an Ed25519 private
key; every service verifies them with public keys only, picked by the token's `kid`.

    CARVE_AUTH_PRIVATE_KEY  the signing key, PEM (the monolith only)
    CARVE_AUTH_PUBLIC_KEYS  the verifying keys, one or more PEM blocks: during a rotation
                            the new key and the one before it

Each may also be given as a file (`CARVE_AUTH_PRIVATE_KEY_FILE`, ...), and a PEM in a
one-line variable may write its line breaks as `\\n`. In local mode, without them, a key
pair is generated on first run under var/auth/ (shared by every process of that var
directory); production refuses to start without them.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.core.exceptions import ImproperlyConfigured

from servicekit import env

PRIVATE_VARIABLE = "CARVE_AUTH_PRIVATE_KEY"
PUBLIC_VARIABLE = "CARVE_AUTH_PUBLIC_KEYS"
HOW_TO_MAKE = (
    "Make a pair with: openssl genpkey -algorithm ed25519 -out auth-private.pem && "
    "openssl pkey -in auth-private.pem -pubout -out auth-public.pem; give the monolith "
    f"{PRIVATE_VARIABLE} (auth-private.pem) and every service {PUBLIC_VARIABLE} (auth-public.pem)"
)
PEM_END = "-----END PUBLIC KEY-----"


def key_id(public_key: Ed25519PublicKey) -> str:
    """The `kid` of a key: a hash of its public part, so rotating keys changes it."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()[:16]


def public_pem(private_pem: str) -> str:
    public = load_private(private_pem).public_key()
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def load_private(pem: str, *, variable: str = PRIVATE_VARIABLE) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"{variable} is not a PEM private key ({exc}). {HOW_TO_MAKE}")
    if not isinstance(key, Ed25519PrivateKey):
        raise ImproperlyConfigured(f"{variable} must be an Ed25519 key. {HOW_TO_MAKE}")
    return key


def load_publics(text: str, *, variable: str = PUBLIC_VARIABLE) -> dict[str, Ed25519PublicKey]:
    """Every PEM public key in `text`, by key id."""
    keys: dict[str, Ed25519PublicKey] = {}
    for block in text.split(PEM_END):
        if not block.strip():
            continue
        try:
            key = serialization.load_pem_public_key(f"{block.strip()}\n{PEM_END}\n".encode())
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"{variable} holds a block that is not a PEM public key ({exc})"
            )
        if not isinstance(key, Ed25519PublicKey):
            raise ImproperlyConfigured(f"{variable} must hold Ed25519 keys. {HOW_TO_MAKE}")
        keys[key_id(key)] = key
    if not keys:
        raise ImproperlyConfigured(f"{variable} holds no public key. {HOW_TO_MAKE}")
    return keys


def _from_environment(variable: str) -> str:
    value = os.environ.get(variable, "")
    path = os.environ.get(f"{variable}_FILE", "")
    if value and path:
        raise ImproperlyConfigured(f"set {variable} or {variable}_FILE, not both")
    if path:
        try:
            value = Path(path).read_text()
        except OSError as exc:
            raise ImproperlyConfigured(f"{variable}_FILE={path!r} cannot be read: {exc}")
    return value.replace("\\n", "\n").strip()


def _refuse(variable: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(
        f"refusing to start in production: {variable} is not set. {HOW_TO_MAKE}"
    )


def private_key() -> str:
    """The signing key (PEM) of the identity side."""
    value = _from_environment(PRIVATE_VARIABLE)
    if not value:
        if env.is_production():
            raise _refuse(PRIVATE_VARIABLE)
        value = development_private_key()
    load_private(value)
    return value


def public_keys() -> str:
    """The verifying keys (PEM blocks) of every service."""
    value = _from_environment(PUBLIC_VARIABLE)
    if not value:
        if env.is_production():
            raise _refuse(PUBLIC_VARIABLE)
        value = public_pem(development_private_key())
    load_publics(value)
    return value


def check_pair(private: str, publics: str) -> None:
    """The identity side must be able to verify what it signs: refuse a mismatched pair."""
    if key_id(load_private(private).public_key()) not in load_publics(publics):
        raise ImproperlyConfigured(
            f"{PRIVATE_VARIABLE} does not match any key of {PUBLIC_VARIABLE}: "
            "add its public key (openssl pkey -in auth-private.pem -pubout)"
        )


def development_private_key() -> str:
    """Local mode: the pair under var/auth/, generated once (the first process wins a race,
    the others read its key), never a constant in the source."""
    folder = env.var_dir() / "auth"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / "private.pem"
    if not path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        draft = folder / f".private-{os.getpid()}-{secrets.token_hex(4)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, pem)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(draft, path)  # atomic, and fails if another process was first
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    winner = path.read_text()
    public = folder / "public.pem"
    expected = public_pem(winner)
    if not public.exists() or public.read_text() != expected:
        # from the key that won, never the loser's own draft; swapped in whole
        partial = folder / f".public-{os.getpid()}-{secrets.token_hex(4)}"
        partial.write_text(expected)
        partial.replace(public)
    return winner

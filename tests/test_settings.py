"""Settings come from the environment; production mode refuses unsafe values."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

REPO = Path(__file__).resolve().parents[1]
STRONG = "x9" * 20 + "q7Rt-Zp1Lm"  # 50 characters, many distinct
AUTH_VARIABLES = {"SECRET_KEY", "CARVE_AUTH_PRIVATE_KEY", "CARVE_AUTH_PUBLIC_KEYS"}


def key_pair() -> tuple[str, str]:
    private = Ed25519PrivateKey.generate()
    return (
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode(),
    )


PRIVATE, PUBLIC = key_pair()
OTHER_PRIVATE, OTHER_PUBLIC = key_pair()


def manage_check(tmp_path, **overrides):
    env = {k: v for k, v in os.environ.items() if k not in AUTH_VARIABLES}
    env.update(CARVE_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="monolith.config.settings.base")
    env.pop("DATABASE_URL", None)
    env.update(overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


SAFE = {
    "SECRET_KEY": STRONG,
    "CARVE_AUTH_PRIVATE_KEY": PRIVATE,
    "CARVE_AUTH_PUBLIC_KEYS": PUBLIC,
    "ALLOWED_HOSTS": "shop.example.com",
}


@pytest.mark.parametrize(
    "overrides, complaint",
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY is not set"),
        (
            {"SECRET_KEY": "carve-insecure-dev-monolith-secret_key"},
            "SECRET_KEY is a development value",
        ),
        ({"SECRET_KEY": "short"}, "SECRET_KEY is too weak"),
        ({"CARVE_AUTH_PRIVATE_KEY": ""}, "CARVE_AUTH_PRIVATE_KEY is not set"),
        ({"CARVE_AUTH_PUBLIC_KEYS": ""}, "CARVE_AUTH_PUBLIC_KEYS is not set"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS is not set"),
    ],
)
def test_production_refuses_to_start_with_unsafe_settings(tmp_path, overrides, complaint):
    result = manage_check(tmp_path, CARVE_ENV="production", **{**SAFE, **overrides})
    assert result.returncode == 2
    assert complaint in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("carve: refusing to start in production")


def test_production_starts_with_safe_settings(tmp_path):
    result = manage_check(tmp_path, CARVE_ENV="production", **SAFE)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "auth").exists()  # production never makes keys of its own


def test_production_explains_how_to_make_the_keys(tmp_path):
    result = manage_check(
        tmp_path, CARVE_ENV="production", **{**SAFE, "CARVE_AUTH_PRIVATE_KEY": ""}
    )
    assert "openssl genpkey -algorithm ed25519" in result.stderr


@pytest.mark.parametrize(
    "overrides, complaint",
    [
        ({"CARVE_AUTH_PUBLIC_KEYS": OTHER_PUBLIC}, "does not match any key"),
        (
            {"CARVE_AUTH_PRIVATE_KEY": "not a key"},
            "CARVE_AUTH_PRIVATE_KEY is not a PEM private key",
        ),
        ({"CARVE_AUTH_PUBLIC_KEYS": "not a key"}, "CARVE_AUTH_PUBLIC_KEYS holds a block"),
    ],
)
def test_bad_keys_are_one_clear_line(tmp_path, overrides, complaint):
    result = manage_check(tmp_path, CARVE_ENV="production", **{**SAFE, **overrides})
    assert result.returncode == 2
    assert complaint in result.stderr
    assert "Traceback" not in result.stderr


def test_rotation_accepts_several_public_keys_and_a_one_line_pem(tmp_path):
    both = (OTHER_PUBLIC + PUBLIC).replace("\n", "\\n")
    result = manage_check(
        tmp_path, CARVE_ENV="production", **{**SAFE, "CARVE_AUTH_PUBLIC_KEYS": both}
    )
    assert result.returncode == 0, result.stderr


def test_local_mode_needs_nothing_and_keeps_its_database_under_var(tmp_path):
    result = manage_check(tmp_path)
    assert result.returncode == 0, result.stderr


def test_local_mode_makes_its_own_key_pair_once_under_var(tmp_path):
    assert manage_check(tmp_path).returncode == 0
    private = (tmp_path / "auth" / "private.pem").read_text()
    assert "PRIVATE KEY" in private
    assert (tmp_path / "auth" / "private.pem").stat().st_mode & 0o077 == 0
    assert manage_check(tmp_path).returncode == 0
    assert (tmp_path / "auth" / "private.pem").read_text() == private
    other = tmp_path / "elsewhere"
    other.mkdir()
    assert manage_check(other).returncode == 0
    assert (other / "auth" / "private.pem").read_text() != private


@pytest.mark.parametrize(
    "overrides, complaint",
    [
        ({"DATABASE_URL": "nosuchdb://x"}, "DATABASE_URL is not a usable database URL"),
        ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
        ({"CARVE_ENV": "staging"}, "CARVE_ENV='staging'"),
        ({"CARVE_THROTTLE_LOGIN": "lots"}, "CARVE_THROTTLE_LOGIN='lots' is not a rate"),
        ({"CARVE_CACHE_URL": "memcached://x"}, "CARVE_CACHE_URL='memcached://x'"),
        ({"CARVE_TRUSTED_PROXIES": "10.0.0.5,proxy"}, "CARVE_TRUSTED_PROXIES: 'proxy' is not"),
    ],
)
def test_bad_settings_are_one_clear_line(tmp_path, overrides, complaint):
    result = manage_check(tmp_path, **overrides)
    assert result.returncode == 2
    assert complaint in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("url", ["", "sqlite:///elsewhere.sqlite3", "postgres://u@127.0.0.1/x"])
def test_database_connections_outlive_a_request_and_an_event_delivery(monkeypatch, url):
    """A connection opened per delivery (and closed after) cost the embedded monolith's
    consumer 7.5 % of its time in the flip test: SQLite keeps them as PostgreSQL does."""
    from servicekit import env

    monkeypatch.setenv("DATABASE_URL", url)
    assert env.database("x.sqlite3")["CONN_MAX_AGE"] > 0

"""Settings come from the environment; production mode refuses unsafe values."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
STRONG = "x9" * 20 + "q7Rt-Zp1Lm"  # 50 characters, many distinct


def manage_check(tmp_path, **overrides):
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "CARVE_AUTH_KEY"}}
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


SAFE = {"SECRET_KEY": STRONG, "CARVE_AUTH_KEY": STRONG[::-1], "ALLOWED_HOSTS": "shop.example.com"}


@pytest.mark.parametrize(
    "overrides, complaint",
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY is not set"),
        (
            {"SECRET_KEY": "carve-insecure-dev-monolith-secret_key"},
            "SECRET_KEY is a development value",
        ),
        ({"SECRET_KEY": "short"}, "SECRET_KEY is too weak"),
        ({"CARVE_AUTH_KEY": ""}, "CARVE_AUTH_KEY is not set"),
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
    result = manage_check(
        tmp_path,
        CARVE_ENV="production",
        SECRET_KEY=STRONG,
        CARVE_AUTH_KEY=STRONG[::-1],
        ALLOWED_HOSTS="shop.example.com",
    )
    assert result.returncode == 0, result.stderr


def test_local_mode_needs_nothing_and_keeps_its_database_under_var(tmp_path):
    result = manage_check(tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "overrides, complaint",
    [
        ({"DATABASE_URL": "nosuchdb://x"}, "DATABASE_URL is not a usable database URL"),
        ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
        ({"CARVE_ENV": "staging"}, "CARVE_ENV='staging'"),
    ],
)
def test_bad_settings_are_one_clear_line(tmp_path, overrides, complaint):
    result = manage_check(tmp_path, **overrides)
    assert result.returncode == 2
    assert complaint in result.stderr
    assert "Traceback" not in result.stderr

"""Test settings: the base settings with fast hashing; the database still comes from
DATABASE_URL, so the same suite runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import tempfile

from monolith.config.settings.base import *  # noqa: F403
from monolith.config.settings.base import DATABASES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CARVE_GATEWAY_SLOW_SECONDS = 0.3

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not :memory:, so threads in concurrency tests share one database and queue
    # on its lock the way processes would.
    DATABASES["default"]["TEST"] = {
        "NAME": os.path.join(tempfile.gettempdir(), f"carve-test-monolith-{os.getpid()}.sqlite3")
    }

# The messaging tests' consumer: a ledger of effects with switchable faults.
INSTALLED_APPS = [*INSTALLED_APPS, "messaging.tests.ledger"]  # noqa: F405
CARVE_EVENT_HANDLER_MODULES = ["messaging.tests.ledger.handlers"]
# Retries come quickly here, unless a test's worker is told otherwise.
CARVE_EVENTS_RETRY_BASE_SECONDS = float(os.environ.get("CARVE_EVENTS_RETRY_BASE_SECONDS", "0.05"))

# Nothing of carve's is cached (throttle counts are in the database): per test process.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

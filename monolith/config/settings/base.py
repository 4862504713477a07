"""Settings of the example monolith, all from the environment (see README: Configuration)."""

from __future__ import annotations

from pathlib import Path

from servicekit import env, keys
from servicekit.base_settings import *  # noqa: F403
from servicekit.base_settings import CARVE_AUTH_PUBLIC_KEYS, COMMON_APPS, spectacular

BASE_DIR = Path(__file__).resolve().parent.parent.parent
SERVICE_NAME = CARVE_SERVICE_NAME = "monolith"
SECRET_KEY = env.secret("SECRET_KEY", service=SERVICE_NAME)
# The identity side: the only service that signs tokens.
CARVE_AUTH_PRIVATE_KEY = keys.private_key()
keys.check_pair(CARVE_AUTH_PRIVATE_KEY, CARVE_AUTH_PUBLIC_KEYS)
DATABASES = {"default": env.database("monolith.sqlite3")}
STATIC_ROOT = env.var_dir() / "static" / SERVICE_NAME

INSTALLED_APPS = [
    *COMMON_APPS,
    "monolith.users",
    "monolith.inventory",
    "monolith.payments",
    "monolith.orders",
    "monolith.orderhistory",
    "monolith.demo",
]
ROOT_URLCONF = "monolith.config.urls"
WSGI_APPLICATION = "monolith.config.wsgi.application"
AUTH_USER_MODEL = "users.User"
SPECTACULAR_SETTINGS = spectacular(
    "carve example monolith", "Users, inventory, payments and orders: what carve migrates."
)

# Events: the handlers of this service, its Celery app, and the contexts it can write.
CARVE_CELERY_APP = "monolith.config.celery:app"
CARVE_EVENT_HANDLER_MODULES = [
    "monolith.inventory.handlers",
    "monolith.payments.handlers",
    "monolith.orders.handlers",
    "monolith.orderhistory.handlers",
]
CARVE_OWNABLE_CONTEXTS = ["payments", "inventory"]
# Run beside the relay (`carve events relay`), each every CARVE_PERIODIC_SECONDS.
CARVE_PERIODIC_JOBS = [
    "messaging.ownership:watch",
    "messaging.commands:resume_parked",
    "monolith.orders.saga:sweep",
    "monolith.users.digests:publish_job",
]
# The identity side: its user-access table is written with each change, so it is always
# current; it tells the services what changed by a digest every DIGEST_SECONDS
# (monolith.users.digests), and answers their checks at /api/users/token/verify/.
CARVE_IDENTITY_SIDE = True
CARVE_ACCESS_DIGEST_SECONDS = env.env_float("CARVE_ACCESS_DIGEST_SECONDS", 1.0)
CARVE_ACCESS_DIGEST_OVERLAP_SECONDS = env.env_float("CARVE_ACCESS_DIGEST_OVERLAP_SECONDS", 30.0)
# An order whose stock or charge has not answered by then is cancelled (reason: timeout).
CARVE_SAGA_TIMEOUT_SECONDS = env.env_float("CARVE_SAGA_TIMEOUT_SECONDS", 30.0)

"""Settings of the payments service, from the environment like every carve service.

DATABASE_URL is this service's own database (a SQLite file under var/ by default);
MONOLITH_DATABASE_URL is read only by `carve extract backfill|verify`.
"""

from __future__ import annotations

from pathlib import Path

from servicekit import env
from servicekit.base_settings import *  # noqa: F403
from servicekit.base_settings import COMMON_APPS, spectacular

BASE_DIR = Path(__file__).resolve().parent.parent
SERVICE_NAME = CARVE_SERVICE_NAME = "payments"
SECRET_KEY = env.secret("SECRET_KEY", service=SERVICE_NAME)
DATABASES = {
    "default": env.database("payments.sqlite3"),
    "monolith": env.database("monolith.sqlite3", url_variable="MONOLITH_DATABASE_URL"),
}
STATIC_ROOT = env.var_dir() / "static" / SERVICE_NAME

INSTALLED_APPS = [*COMMON_APPS, "extracted.payments.payments"]
ROOT_URLCONF = "extracted.payments.config.urls"
WSGI_APPLICATION = "extracted.payments.config.wsgi.application"
SPECTACULAR_SETTINGS = spectacular("carve payments service", "The payments context, extracted.")

CARVE_CELERY_APP = "extracted.payments.config.celery:app"
CARVE_EVENT_HANDLER_MODULES = ["extracted.payments.payments.handlers", "servicekit.handlers"]
CARVE_OWNABLE_CONTEXTS = ["payments"]
CARVE_PERIODIC_JOBS = ["messaging.ownership:watch", "messaging.commands:resume_parked"]

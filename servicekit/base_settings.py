"""Settings every carve service shares, all from the environment (README: Configuration).

A service's settings module star-imports this one, then names itself and adds its apps:

    from servicekit.base_settings import *  # noqa: F403
    SERVICE_NAME = CARVE_SERVICE_NAME = "payments"
    SECRET_KEY = env.secret("SECRET_KEY", service=SERVICE_NAME)
    INSTALLED_APPS = [*COMMON_APPS, "extracted.payments.charges"]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from servicekit import env, keys

PRODUCTION = env.is_production()
# Off in every mode unless asked for; even then API traffic gets JSON errors, never Django's
# debug pages (servicekit.errors.JsonErrorsMiddleware).
DEBUG = env.env_bool("DEBUG", default=False)
ALLOWED_HOSTS = env.allowed_hosts()
CSRF_TRUSTED_ORIGINS = env.env_list("CSRF_TRUSTED_ORIGINS", [])
# Behind carve's proxy, which sets these (and drops any a client sent): links the API
# builds (pagination) point at the address the client used, not at the backend's.
USE_X_FORWARDED_HOST = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Bearer tokens (servicekit.tokens): signed by the monolith with its private key, verified
# offline by every service with these public keys (servicekit.keys says how to make them).
CARVE_AUTH_PUBLIC_KEYS = keys.public_keys()
CARVE_AUTH_ACCESS_TTL = env.env_int("CARVE_AUTH_ACCESS_TTL", 900)
CARVE_AUTH_REFRESH_TTL = env.env_int("CARVE_AUTH_REFRESH_TTL", 14 * 24 * 3600)
# Revocation (servicekit.useraccess): a service trusts its copy of user access while the
# identity side's last digest it applied is under STALE_SECONDS old; past that it asks
# the identity side at IDENTITY_URL (its base URL, e.g. http://monolith:8000), and answers
# 503 when that fails too. The identity side (the monolith) sets CARVE_IDENTITY_SIDE.
CARVE_IDENTITY_SIDE = False
CARVE_ACCESS_STALE_SECONDS = env.env_float("CARVE_ACCESS_STALE_SECONDS", 3.0)
CARVE_IDENTITY_URL = env.env_str("CARVE_IDENTITY_URL", "")
CARVE_IDENTITY_TIMEOUT = env.env_float("CARVE_IDENTITY_TIMEOUT", 1.0)
CARVE_IDENTITY_CACHE_SECONDS = env.env_float("CARVE_IDENTITY_CACHE_SECONDS", 1.5)

# The fake card gateway: how long `tok_slow` takes.
CARVE_GATEWAY_SLOW_SECONDS = env.env_float("CARVE_GATEWAY_SLOW_SECONDS", 2.0)

# Events (messaging/): the embedded broker is a folder under var/; RabbitMQ in real mode.
CELERY_BROKER_URL = env.env_str("CELERY_BROKER_URL", "filesystem://")
CARVE_BROKER_DIR = Path(env.env_str("CARVE_BROKER_DIR", str(env.var_dir() / "broker")))
CARVE_EVENTS_EXCHANGE = env.env_str("CARVE_EVENTS_EXCHANGE", "carve.events")
CARVE_EVENTS_QUEUE_PREFIX = env.env_str("CARVE_EVENTS_QUEUE_PREFIX", "carve.")
CARVE_EVENTS_MAX_ATTEMPTS = env.env_int("CARVE_EVENTS_MAX_ATTEMPTS", 5)
CARVE_EVENTS_GAP_ATTEMPTS = env.env_int("CARVE_EVENTS_GAP_ATTEMPTS", 20)
CARVE_EVENTS_RETRY_BASE_SECONDS = env.env_float("CARVE_EVENTS_RETRY_BASE_SECONDS", 0.2)
CARVE_EVENTS_RETRY_MAX_SECONDS = env.env_float("CARVE_EVENTS_RETRY_MAX_SECONDS", 30.0)
# A delivery the database or broker failed under is tried again by its worker, uncounted,
# at most INFRA_RETRY_MAX_SECONDS after the last try (how soon a consumer resumes once its
# database is back), for up to INFRA_WAIT_SECONDS; then it goes back to the queue.
CARVE_EVENTS_INFRA_RETRY_MAX_SECONDS = env.env_float("CARVE_EVENTS_INFRA_RETRY_MAX_SECONDS", 0.5)
CARVE_EVENTS_INFRA_WAIT_SECONDS = env.env_float("CARVE_EVENTS_INFRA_WAIT_SECONDS", 120.0)

# Ownership (messaging/ownership.py): the extracted service that takes each context.
# Route names in the proxy are these context names.
CARVE_CONTEXT_SERVICES = {"payments": "payments", "inventory": "inventory"}
CARVE_HANDOVER_WAIT_SECONDS = env.env_float("CARVE_HANDOVER_WAIT_SECONDS", 10.0)
CARVE_PERIODIC_SECONDS = env.env_float("CARVE_PERIODIC_SECONDS", 0.25)

COMMON_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "servicekit",
    "messaging",
]

MIDDLEWARE = [
    "servicekit.metrics.RequestMetricsMiddleware",
    "servicekit.requestid.RequestIdMiddleware",
    "servicekit.errors.JsonErrorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = not PRODUCTION  # local mode serves static files as they change

if PRODUCTION:
    SESSION_COOKIE_SECURE = env.env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env.env_bool("CSRF_COOKIE_SECURE", True)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["servicekit.auth.SignedTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "servicekit.pagination.StandardPagination",
    "DEFAULT_SCHEMA_CLASS": "servicekit.schema.ServiceAutoSchema",
    "EXCEPTION_HANDLER": "servicekit.errors.exception_handler",
    # servicekit.parsers: a body nested too deeply is a 400 parse_error, not a 500.
    "DEFAULT_PARSER_CLASSES": [
        "servicekit.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "COERCE_DECIMAL_TO_STRING": True,
    # servicekit.throttles: 429 with Retry-After once a client passes these.
    "DEFAULT_THROTTLE_RATES": {
        "login": env.env_rate("CARVE_THROTTLE_LOGIN", "10/min"),
        "login_account": env.env_rate("CARVE_THROTTLE_LOGIN_ACCOUNT", "5/min"),
        "register": env.env_rate("CARVE_THROTTLE_REGISTER", "100/hour"),
        "token_refresh": env.env_rate("CARVE_THROTTLE_REFRESH", "60/min"),
    },
}
# servicekit.throttles.client_address: X-Forwarded-For is believed only from these peers
# (addresses or CIDRs; carve's proxy). None by default: the peer's own address counts.
CARVE_TRUSTED_PROXIES = env.env_networks("CARVE_TRUSTED_PROXIES", [])
CACHES = {"default": env.cache()}


def spectacular(title: str, description: str) -> dict[str, Any]:
    return {
        "TITLE": title,
        "DESCRIPTION": description,
        "VERSION": "1.0.0",
        "SERVE_INCLUDE_SCHEMA": False,
        "SWAGGER_UI_DIST": "SIDECAR",
        "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
        "REDOC_DIST": "SIDECAR",
        "COMPONENT_SPLIT_REQUEST": True,
        "APPEND_COMPONENTS": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}
        },
        "SECURITY": [{"bearerAuth": []}],
    }


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.env_str("LOG_LEVEL", "INFO")},
}

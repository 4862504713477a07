"""The payments service's Celery app: `celery -A extracted.payments.config.celery worker`."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "extracted.payments.config.settings")
django.setup()

from messaging.celeryapp import create_celery_app  # noqa: E402 - needs Django set up

app = create_celery_app()

"""The inventory service's Celery app: `celery -A extracted.inventory.config.celery worker`."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "extracted.inventory.config.settings")
django.setup()

from messaging.celeryapp import create_celery_app  # noqa: E402 - needs Django set up

app = create_celery_app()

"""The monolith's Celery app: `celery -A monolith.config.celery worker`."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monolith.config.settings.base")
django.setup()

from messaging.celeryapp import create_celery_app  # noqa: E402 - needs Django set up

app = create_celery_app()

"""The current service's Celery app, built once per process from its settings."""

from __future__ import annotations

import functools
import importlib

from celery import Celery
from django.conf import settings

_override: list[Celery] = []


def celery_app() -> Celery:
    """The app named by CARVE_CELERY_APP ("module:attribute"), e.g. the worker's own."""
    if _override:
        return _override[-1]
    return _configured_app()


@functools.cache
def _configured_app() -> Celery:
    module, _, attribute = settings.CARVE_CELERY_APP.partition(":")
    app: Celery = getattr(importlib.import_module(module), attribute or "app")
    return app


def push_app(app: Celery) -> None:
    """Use `app` instead (a test's private broker namespace) until pop_app()."""
    _override.append(app)


def pop_app() -> None:
    _override.pop()

"""Settings of the events benchmark: the test settings, whose ledger consumer records one
Effect row per applied StockChanged event (an ordered handler), run as a deployment would
run: DEBUG off (no query recording) and quiet logs.

The database, broker, exchange and queue prefix come from the environment that
benchmarks/events.py sets for its own processes.
"""

from __future__ import annotations

from monolith.config.settings.test import *  # noqa: F403

DEBUG = False
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}

from collections.abc import Iterator
from pathlib import Path

import pytest

from messaging.testing import EventsEnv, events_env


@pytest.fixture
def events(tmp_path: Path, transactional_db: None) -> Iterator[EventsEnv]:
    """A private exchange/queue namespace on this run's broker (embedded or RabbitMQ)."""
    with events_env(tmp_path) as env:
        yield env

"""Telling a failure of the infrastructure from a failure of a handler.

A database or broker that is unreachable, a connection lost, a transaction the database
asks to run again (serialization failure, deadlock: OperationalError) say nothing about
the event: its delivery goes back to the queue, uncounted, and is applied once the
infrastructure is back (messaging.fate, messaging.failures.retry_delivery_uncounted).
"""

from __future__ import annotations

from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerOperationalError

INFRASTRUCTURE_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    BrokerOperationalError,
    ConnectionError,
)


class InfrastructureFailure(Exception):
    """The database or broker failed under a delivery: it must go back, uncounted.

    `counted`: ids of the events whose attempt this delivery has counted already, so the
    next try of the same delivery does not count them again.
    """

    def __init__(self, cause: BaseException, counted: set[str]) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.counted = counted

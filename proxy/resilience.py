"""Per-upstream protection: circuit breaker, bulkhead, retry budget and backoff."""

from __future__ import annotations

import enum
import random
import time

from proxy.config import UpstreamConfig
from proxy.pool import UpstreamPool


class BreakerState(enum.IntEnum):
    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2


class CircuitBreaker:
    """Opens after `failures` consecutive failures; after `reset_seconds` lets one probe
    through (half-open): its success closes the circuit, its failure opens it again.

    A failure is a transport failure (no connection, a timeout, a dropped connection or a
    malformed answer): an upstream that answers, even with a 5xx, is up, and opening its
    circuit would only turn its errors into more errors."""

    def __init__(self, failures: int, reset_seconds: float) -> None:
        self.threshold = failures
        self.reset_seconds = reset_seconds
        self.state = BreakerState.CLOSED
        self.consecutive = 0
        self._opened_at = 0.0
        self._probing = False

    def allow(self) -> bool:
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN:
            if time.monotonic() - self._opened_at < self.reset_seconds:
                return False
            self.state = BreakerState.HALF_OPEN
            self._probing = False
        if self._probing:
            return False
        self._probing = True
        return True

    def probe_due(self) -> bool:
        """Open, and its reset time is over: the next request is let through as a probe."""
        return (
            self.state is BreakerState.OPEN
            and time.monotonic() - self._opened_at >= self.reset_seconds
        )

    def success(self) -> None:
        self.consecutive = 0
        self._probing = False
        self.state = BreakerState.CLOSED

    def release(self) -> None:
        """The request let through says nothing about the upstream (the client went away,
        or its upload went over the limit): the next request may probe instead."""
        self._probing = False

    def failure(self) -> None:
        self.consecutive += 1
        self._probing = False
        if self.state is BreakerState.HALF_OPEN or self.consecutive >= self.threshold:
            self.state = BreakerState.OPEN
            self._opened_at = time.monotonic()


class RetryBudget:
    """Retries may add at most `ratio` of the requests seen plus `min_per_second`:
    a token bucket filled by requests, so a failing upstream is not hit by a storm."""

    def __init__(self, ratio: float, min_per_second: float) -> None:
        self.ratio = ratio
        self.min_per_second = min_per_second
        self.capacity = max(10.0, min_per_second * 10)
        self.tokens = self.capacity
        self._last = time.monotonic()

    def deposit(self) -> None:
        """Called once per request."""
        self.tokens = min(self.capacity, self.tokens + self.ratio)

    def withdraw(self) -> bool:
        now = time.monotonic()
        refill = (now - self._last) * self.min_per_second
        self._last = now
        self.tokens = min(self.capacity, self.tokens + refill)
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def backoff(attempt: int, base: float = 0.025, cap: float = 1.0) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2**attempt)]."""
    return random.uniform(0, min(cap, base * (2**attempt)))


class Upstream:
    """An upstream's runtime state: its breaker and its bulkhead (requests in flight)."""

    def __init__(self, config: UpstreamConfig) -> None:
        self.config = config
        self.name = config.name
        self.base = str(config.url).rstrip("/")
        self.breaker = CircuitBreaker(config.breaker_failures, config.breaker_reset_seconds)
        self.inflight = 0
        self.pool = UpstreamPool(
            config.url.host or "127.0.0.1",
            config.url.port or 80,
            connect_timeout=config.connect_timeout,
            idle_seconds=config.idle_seconds,
        )

    def has_room(self) -> bool:
        return self.inflight < self.config.max_concurrency

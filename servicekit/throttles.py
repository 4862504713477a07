"""DRF throttles for the doors anyone may knock on (log in, register, refresh a token).

Rates are DRF's `DEFAULT_THROTTLE_RATES`, by scope, from the environment (README:
Configuration); a refused request is a 429 `throttled` with Retry-After. The client's
address is `client_address`: X-Forwarded-For is believed only when the peer is one of
`CARVE_TRUSTED_PROXIES`, so a client that reaches a service port directly cannot name
any address it likes.

Counts live in the database (`ThrottleCount`) and a request takes its place in the count
before it is let through, in one atomic UPDATE: concurrent requests cannot all see room
for themselves (a check-then-write would let 40 simultaneous guesses through a limit of
5). A window begins with the first request counted and lasts the rate's period.

Register and refresh use `ScopedByAddress` (`throttle_scope` on the view).
`FailedAttemptsThrottle` keeps only attempts that failed (a wrong password): the view runs
its attempt in `failures_counted`, which gives the place back unless the attempt failed,
so a client that logs in right is never slowed down, and a guesser is stopped by address
and by the account guessed at, the right password included, until the window has passed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, Value, When
from rest_framework.request import Request
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle
from rest_framework.views import APIView

from servicekit.models import ThrottleCount

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in trusted)


def _is_trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: Request) -> str:
    """The address of the client: REMOTE_ADDR, unless that is a trusted proxy
    (`settings.CARVE_TRUSTED_PROXIES`, addresses or CIDRs); then the X-Forwarded-For
    entry the nearest untrusted hop added (walked from the right, trusted proxies
    skipped). Entries left of it are the client's own words and never believed."""
    remote = str(request.META.get("REMOTE_ADDR") or "")
    networks = _networks(tuple(getattr(settings, "CARVE_TRUSTED_PROXIES", ())))
    if not _is_trusted(remote, networks):
        return remote
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    for address in reversed([a for a in forwarded if a]):
        if not _is_trusted(address, networks):
            return address
    return remote


def _count_one(key: str, duration: int, now: float) -> ThrottleCount:
    """Add one to `key`'s count (a new window if `duration` has passed since the current
    one began) and return the row as it is now: one UPDATE, so concurrent requests queue
    on the row and each sees the count its own request made."""
    fresh = Q(started__gt=now - duration)
    for _ in range(2):
        with transaction.atomic():
            counted = ThrottleCount.objects.filter(key=key).update(
                count=Case(When(fresh, then=F("count") + 1), default=Value(1)),
                started=Case(When(fresh, then=F("started")), default=Value(now)),
            )
            if counted:
                return ThrottleCount.objects.get(key=key)
        try:
            with transaction.atomic():
                return ThrottleCount.objects.create(key=key, started=now, count=1)
        except IntegrityError:  # another request made the row first: count in it
            continue
    raise RuntimeError(f"throttle count {key!r} could be neither updated nor created")


class AtomicRateThrottle(SimpleRateThrottle):
    """SimpleRateThrottle counting in the database, atomically, by `client_address`."""

    num_requests: int  # set by SimpleRateThrottle from the rate (the stubs omit them)
    duration: int

    def get_ident(self, request: Request) -> str:
        return client_address(request)

    def allow_request(self, request: Request, view: APIView) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        row = _count_one(self.key, self.duration, self.now)
        self.started = row.started
        if row.count > self.num_requests:
            return False
        self.counted(request)
        return True

    def counted(self, request: Request) -> None:
        """Called once this request has taken its place in the count."""

    def wait(self) -> float:
        return max(1.0, self.duration - (self.now - self.started))


class ScopedByAddress(ScopedRateThrottle, AtomicRateThrottle):
    """DRF's ScopedRateThrottle (`throttle_scope` on the view), counted atomically."""


_TAKEN = "_carve_failure_counts"


class FailedAttemptsThrottle(AtomicRateThrottle):
    """Refuses a client once it had `rate` failures in the window: each attempt takes a
    place before it runs, and `failures_counted` gives it back unless the attempt failed."""

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def counted(self, request: Request) -> None:
        _taken(request).append(str(self.key))


@contextmanager
def failures_counted(request: Request, failure: type[BaseException]) -> Iterator[None]:
    """Run one attempt of a view throttled by FailedAttemptsThrottles: the places it took
    stay counted only if the attempt raises `failure`."""
    try:
        yield
    except failure:
        raise
    except BaseException:
        _give_back(request)
        raise
    _give_back(request)


def _taken(request: Request) -> list[str]:
    """The counts this request took a place in (FailedAttemptsThrottle keys)."""
    taken: list[str] | None = getattr(request, _TAKEN, None)
    if taken is None:
        taken = []
        setattr(request, _TAKEN, taken)
    return taken


def _give_back(request: Request) -> None:
    for key in _taken(request):
        ThrottleCount.objects.filter(key=key, count__gt=0).update(count=F("count") - 1)
    _taken(request).clear()


class LoginFailuresByAddress(FailedAttemptsThrottle):
    scope = "login"


class LoginFailuresByAccount(FailedAttemptsThrottle):
    """Failures against one username, from any address (a distributed guesser)."""

    scope = "login_account"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        username = request.data.get("username") if hasattr(request.data, "get") else None
        if not isinstance(username, str) or not username:
            return None
        return self.cache_format % {"scope": self.scope, "ident": username.strip().lower()}

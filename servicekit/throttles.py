"""DRF throttles for the doors anyone may knock on (log in, register, refresh a token).

Rates are DRF's `DEFAULT_THROTTLE_RATES`, by scope, from the environment (README:
Configuration); a refused request is a 429 `throttled` with Retry-After. The client's
address is `client_address`: X-Forwarded-For is believed only when the peer is one of
`CARVE_TRUSTED_PROXIES`, so a client that reaches a service port directly cannot name
any address it likes.

Register and refresh use `ScopedByAddress` (`throttle_scope` on the view).
`FailedAttemptsThrottle` counts only what the view reports as a failure (a wrong
password), so a client that logs in right is never slowed down, and a guesser is stopped
by address and by the account guessed at, the right password included, until the window
has passed.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle
from rest_framework.views import APIView

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


class ByClientAddress(SimpleRateThrottle):
    """Identifies a client by `client_address` rather than DRF's NUM_PROXIES rule."""

    def get_ident(self, request: Request) -> str:
        return client_address(request)


class ScopedByAddress(ByClientAddress, ScopedRateThrottle):
    """DRF's ScopedRateThrottle (`throttle_scope` on the view), by `client_address`."""


class FailedAttemptsThrottle(ByClientAddress):
    """Refuses a client once it had `rate` failures in the window; counts nothing itself."""

    num_requests: int  # set by SimpleRateThrottle from the rate (the stubs omit them)
    duration: int

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def allow_request(self, request: Request, view: APIView) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        self.history = [t for t in self.cache.get(self.key, []) if t > self.now - self.duration]
        return len(self.history) < self.num_requests

    def failed(self, request: Request, view: APIView) -> None:
        """Count one failure of this client."""
        key = self.get_cache_key(request, view)
        if self.rate is None or key is None:
            return
        now = self.timer()
        history = [t for t in self.cache.get(key, []) if t > now - self.duration]
        self.cache.set(key, [now, *history], self.duration)


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


def report_failure(request: Request, view: APIView) -> None:
    """Tell the failure-counting throttles of `view` that `request` failed."""
    for throttle in view.get_throttles():
        if isinstance(throttle, FailedAttemptsThrottle):
            throttle.failed(request, view)

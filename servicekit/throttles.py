"""DRF throttles for the doors anyone may knock on (log in, register, refresh a token).

Rates are DRF's `DEFAULT_THROTTLE_RATES`, by scope, from the environment (README:
Configuration); a refused request is a 429 `throttled` with Retry-After. The client's
address is the one carve's proxy appends to X-Forwarded-For (`NUM_PROXIES`).

Register and refresh use DRF's ScopedRateThrottle (`throttle_scope` on the view).
`FailedAttemptsThrottle` counts only what the view reports as a failure (a wrong
password), so a client that logs in right is never slowed down, and a guesser is stopped
by address and by the account guessed at, the right password included, until the window
has passed.
"""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView


class FailedAttemptsThrottle(SimpleRateThrottle):
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

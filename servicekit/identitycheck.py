"""Asking the identity side whether a token still stands: what a service does, instead
of trusting its stale copy of user access (servicekit.useraccess).

    GET {CARVE_IDENTITY_URL}/api/users/token/verify/   Authorization: Bearer <the token>

The token is its own credential: the identity side answers 200 when it stands and 401
(with the reason) when it does not, from its users table, and tells nobody anything about
a token they do not hold. One call per token at most every
CARVE_IDENTITY_CACHE_SECONDS (a refusal is kept for good: a refused token never comes
back); a short timeout (CARVE_IDENTITY_TIMEOUT), since the request waits for it.
"""

from __future__ import annotations

import threading
import time

import requests
from django.conf import settings

from servicekit.tokens import TokenClaims

VERIFY_PATH = "/api/users/token/verify/"
MAX_KEPT = 10_000  # answers kept per process; the oldest go first beyond that


class IdentityUnavailable(Exception):
    """The identity side could not be asked, or gave no usable answer."""


_lock = threading.Lock()
# (user id, token id) -> (kept until, by time.monotonic(); the reason or None)
_answers: dict[tuple[int, str], tuple[float, str | None]] = {}


def _kept(key: tuple[int, str]) -> tuple[bool, str | None]:
    with _lock:
        found = _answers.get(key)
    if found is None or found[0] < time.monotonic():
        return False, None
    return True, found[1]


def _keep(key: tuple[int, str], reason: str | None) -> None:
    seconds = float(settings.CARVE_IDENTITY_CACHE_SECONDS)
    until = float("inf") if reason is not None else time.monotonic() + seconds
    with _lock:
        if len(_answers) >= MAX_KEPT:
            now = time.monotonic()
            for stale in [k for k, (u, _) in _answers.items() if u < now]:
                del _answers[stale]
            while len(_answers) >= MAX_KEPT:
                del _answers[next(iter(_answers))]
        _answers[key] = (until, reason)


def forget_answers() -> None:
    """Drop every kept answer (tests)."""
    with _lock:
        _answers.clear()


def identity_reason(claims: TokenClaims, *, token: str) -> str | None:
    """Why the identity side refuses `token`, None when it accepts it; raises
    IdentityUnavailable when it cannot be asked."""
    key = (claims.user_id, claims.token_id or token)
    known, reason = _kept(key)
    if known:
        return reason
    base = str(getattr(settings, "CARVE_IDENTITY_URL", "") or "").rstrip("/")
    if not base:
        raise IdentityUnavailable("CARVE_IDENTITY_URL is not set")
    try:
        answer = requests.get(
            f"{base}{VERIFY_PATH}",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=float(settings.CARVE_IDENTITY_TIMEOUT),
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise IdentityUnavailable(f"{type(exc).__name__}") from None
    if answer.status_code == 200:
        reason = None
    elif answer.status_code == 401:
        reason = _detail(answer) or "token has been revoked; log in again"
    else:
        raise IdentityUnavailable(f"it answered {answer.status_code}")
    _keep(key, reason)
    return reason


def _detail(answer: requests.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return ""
    detail = body.get("detail") if isinstance(body, dict) else None
    return detail if isinstance(detail, str) else ""

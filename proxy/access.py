"""Who may see the proxy's own pages: admin tokens and dashboard sessions, checked in one place.

Two kinds of admin token are accepted (README "Admin tokens"):

- `CARVE_ADMIN_TOKEN` (or `[proxy] admin_token`): one token without an expiry, what
  `carve routes` and scrapers send; changed by restarting the proxy with another.
- `admin_tokens_file` (or `CARVE_ADMIN_TOKENS_FILE`): a file of tokens, one a line as
  `TOKEN NOT_AFTER NAME`, written by `carve proxy-token`; each stops working at its
  NOT_AFTER (UTC), and the file is read again when it changes, so a token is added or
  revoked without a restart.

A token is sent as `Authorization: Bearer TOKEN` or `X-Carve-Token: TOKEN` and compared in
constant time. The dashboard never keeps a token: its sign-in form posts one once to
`/_carve/session`, which answers a session cookie (HttpOnly, SameSite=Strict, Path=/_carve,
SESSION_SECONDS at most, never past the token's NOT_AFTER). The cookie is signed with the
token that made it (HMAC), so every worker and every proxy sharing the token accepts it,
and it dies with its token. A write made with the cookie also needs the session's CSRF
value in `X-Carve-CSRF` (a second HMAC of the cookie, which the page holds in memory only).

With no token configured at all, the pages answer 404: nothing of the proxy's insides is
open by default.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from proxy.config import MIN_TOKEN_LENGTH
from proxy.errors import error_response

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
log = logging.getLogger("carve.proxy")

SESSION_COOKIE = "carve_admin_session"
CSRF_HEADER = "X-Carve-CSRF"
SESSION_SECONDS = 3600  # a dashboard session lasts this long at most: then sign in again
FILE_CHECK_SECONDS = 1.0  # the tokens file is looked at (stat) at most this often
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class TokenFileError(ValueError):
    """A line of the tokens file that is not `TOKEN NOT_AFTER [NAME]`."""


@dataclass(frozen=True)
class Token:
    secret: bytes
    not_after: float | None  # a Unix time; None: never expires
    name: str

    def valid(self, now: float) -> bool:
        return self.not_after is None or now < self.not_after


def parse_not_after(text: str) -> float:
    """`2026-12-31T00:00:00Z` (or any ISO-8601 time; without a zone: UTC) as a Unix time."""
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def read_tokens_file(path: Path) -> list[Token]:
    """The tokens of a tokens file; blank lines and `#` comments are skipped."""
    tokens = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) < 2:
            raise TokenFileError(f"{path}:{number}: write TOKEN NOT_AFTER [NAME]")
        secret, not_after, *name = words
        if len(secret) < MIN_TOKEN_LENGTH:
            raise TokenFileError(
                f"{path}:{number}: a token has at least {MIN_TOKEN_LENGTH} characters"
            )
        try:
            expiry = parse_not_after(not_after)
        except ValueError:
            raise TokenFileError(
                f"{path}:{number}: NOT_AFTER {not_after!r} is not a time like 2026-12-31T00:00:00Z"
            ) from None
        tokens.append(Token(secret.encode(), expiry, " ".join(name) or f"line {number}"))
    return tokens


def mint_token(path: Path, days: float, name: str, now: float | None = None) -> Token:
    """A new random token valid for `days`, appended to the tokens file (created 0600)."""
    now = time.time() if now is None else now
    not_after = datetime.fromtimestamp(now + days * 86400, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    token = Token(secrets.token_urlsafe(32).encode(), parse_not_after(not_after), name)
    if path.exists():
        read_tokens_file(path)  # never append to a file the proxy cannot read
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as file:
        file.write(f"{token.secret.decode()} {not_after} {name}\n")
    return token


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _mac(key: bytes, *parts: str) -> str:
    return _b64(hmac.new(key, "|".join(parts).encode(), hashlib.sha256).digest())


class AdminAccess:
    """The accepted tokens (the fixed one, and the file's, read again when it changes) and
    the checks every guarded page goes through."""

    def __init__(self, token: str | None, tokens_file: str | None = None) -> None:
        fixed = [Token(token.encode(), None, "CARVE_ADMIN_TOKEN")] if token else []
        self._fixed = fixed
        self._file = Path(tokens_file) if tokens_file else None
        self._file_tokens: list[Token] = []
        self._stamp: tuple[int, int, int] | None = None
        self._checked = 0.0
        self.enabled_at_all = bool(fixed) or self._file is not None
        self._refresh(force=True)

    # ------------------------------------------------------------------ tokens
    def _refresh(self, force: bool = False) -> None:
        """Read the tokens file again if it changed (looked at once a second at most). A
        file that cannot be read or parsed accepts none of its tokens, and says why once."""
        if self._file is None:
            return
        now = time.monotonic()
        if not force and now - self._checked < FILE_CHECK_SECONDS:
            return
        self._checked = now
        try:
            st = self._file.stat()
        except OSError as exc:
            stamp = None
            problem: str | None = f"cannot read the admin tokens file {self._file}: {exc}"
        else:
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
            problem = None
        if stamp is not None and stamp == self._stamp:
            return
        self._stamp = stamp
        tokens: list[Token] = []
        if problem is None:
            try:
                tokens = read_tokens_file(self._file)
            except (OSError, UnicodeDecodeError, TokenFileError) as exc:
                problem = f"admin tokens file not used: {exc}"
        if problem is not None:
            log.error("%s", problem)
        self._file_tokens = tokens

    def tokens(self) -> list[Token]:
        """The tokens accepted now (the file's expired ones left out)."""
        self._refresh()
        now = time.time()
        return [t for t in (*self._fixed, *self._file_tokens) if t.valid(now)]

    def token_for(self, given: str) -> Token | None:
        """The accepted token `given` is, compared in constant time; None if none. Any bytes
        compare (and fail) without an error: headers are read with surrogate escapes."""
        candidate = given.encode("utf-8", "surrogateescape")
        found = None
        for token in self.tokens():  # every one compared: the time does not say which
            if hmac.compare_digest(candidate, token.secret):
                found = token
        return found

    # ------------------------------------------------------------------ sessions
    def new_session(self, token: Token) -> tuple[str, float]:
        """A session cookie value signed with `token`, and when it expires."""
        expires = time.time() + SESSION_SECONDS
        if token.not_after is not None:
            expires = min(expires, token.not_after)
        payload = f"{int(expires)}.{secrets.token_urlsafe(12)}"
        return f"{payload}.{_mac(token.secret, 'session', payload)}", float(int(expires))

    def session_token(self, cookie: str | None) -> tuple[Token, float] | None:
        """The token a session cookie was made with, and its expiry, if it is still good."""
        if not cookie or cookie.count(".") != 2 or len(cookie) > 200:
            return None
        payload, _, mac = cookie.rpartition(".")
        expires_text = payload.partition(".")[0]
        if not expires_text.isdigit() or int(expires_text) <= time.time():
            return None
        found = None
        for token in self.tokens():
            if hmac.compare_digest(mac, _mac(token.secret, "session", payload)):
                found = token
        return (found, float(expires_text)) if found is not None else None

    @staticmethod
    def csrf_for(token: Token, cookie: str) -> str:
        return _mac(token.secret, "csrf", cookie)

    # ------------------------------------------------------------------ checks
    def check(self, request: web.Request) -> tuple[int, str] | None:
        """None when the request may see a guarded page, else (status, detail)."""
        given = request.headers.get("X-Carve-Token")
        authorization = request.headers.get("Authorization", "")
        if authorization[:7].lower() == "bearer ":
            given = authorization[7:].strip()
        if given is not None:
            return None if self.token_for(given) else (401, "a valid admin token is required")
        cookie = request.cookies.get(SESSION_COOKIE)
        session = self.session_token(cookie)
        if session is None or cookie is None:
            return 401, "a valid admin token is required (or sign in at /_carve/ui)"
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "").encode("utf-8", "surrogateescape")
            if not hmac.compare_digest(sent, self.csrf_for(session[0], cookie).encode()):
                return 403, f"a change made with the session cookie needs {CSRF_HEADER}"
        return None

    def enabled(self, handler: Handler) -> Handler:
        """`handler`, or 404 when no admin token is configured."""

        @functools.wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            if not self.enabled_at_all:
                return error_response(
                    404, "admin_disabled", "the admin API is off: set CARVE_ADMIN_TOKEN"
                )
            return await handler(request)

        return wrapper

    def guarded(self, handler: Handler) -> Handler:
        """`handler` for a request with an admin token or a dashboard session; 401 (403:
        a session's write without its CSRF value) otherwise."""

        @functools.wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            refused = self.check(request)
            if refused is not None:
                status, detail = refused
                code = "bad_token" if status == 401 else "csrf_required"
                return error_response(status, code, detail)
            return await handler(request)

        return self.enabled(wrapper)

"""DRF authentication from a signed bearer token: verified offline on every service, then
checked against the user's access state that service keeps (servicekit.useraccess), or,
while that copy is stale, with the identity side; a 503 when neither can tell."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from servicekit.tokens import ACCESS, InvalidToken, TokenClaims, token_verify
from servicekit.useraccess import AccessUnknown, revocation_reason

log = logging.getLogger("carve.auth")


@dataclass(frozen=True)
class TokenUser:
    """The authenticated caller as the token describes them (not an ORM object)."""

    id: int
    username: str
    is_staff: bool
    is_authenticated: bool = True
    is_anonymous: bool = False
    is_active: bool = True

    @property
    def pk(self) -> int:
        return self.id

    @classmethod
    def from_claims(cls, claims: TokenClaims) -> TokenUser:
        return cls(id=claims.user_id, username=claims.username, is_staff=claims.is_staff)


KEYWORD = "Bearer"


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None without one."""
    header = authentication.get_authorization_header(request).split()
    if not header or header[0].lower() != KEYWORD.lower().encode():
        return None
    if len(header) != 2:
        raise exceptions.AuthenticationFailed(
            "Authorization header must be 'Bearer <token>' with one token."
        )
    try:
        return header[1].decode("ascii")
    except UnicodeDecodeError:
        raise exceptions.AuthenticationFailed("token is not valid") from None


def verified_claims(token: str) -> TokenClaims:
    """The claims of an access token signed by the identity side and not expired."""
    try:
        return token_verify(token=token, kind=ACCESS)
    except InvalidToken as exc:
        raise exceptions.AuthenticationFailed(str(exc) or "token is not valid") from None


class SignedTokenAuthentication(authentication.BaseAuthentication):
    keyword = KEYWORD

    def authenticate(self, request: Request) -> tuple[TokenUser, TokenClaims] | None:
        token = bearer_token(request)
        if token is None:
            return None
        claims = verified_claims(token)
        reason = self.revocation(claims, token=token)
        if reason is not None:
            raise exceptions.AuthenticationFailed(reason)
        return TokenUser.from_claims(claims), claims

    def revocation(self, claims: TokenClaims, *, token: str) -> str | None:
        """Why this well-signed, unexpired token may no longer be used; None if it may."""
        # servicekit.errors imports DRF's views, which import this module (the setting).
        from servicekit.errors import ServiceUnavailable

        try:
            return revocation_reason(claims, token=token)
        except AccessUnknown as exc:  # not a 401: the token may well be good; retry
            log.warning("token of user %s not judged: %s", claims.user_id, exc)
            raise ServiceUnavailable(
                "This service cannot check tokens right now; retry shortly."
            ) from exc

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) when credentials are missing or bad.
        return f'{self.keyword} realm="carve"'


def caller_id(request: Request) -> int:
    """The authenticated caller's user id (views behind IsAuthenticated only)."""
    user_id = request.user.pk
    if user_id is None:
        raise exceptions.NotAuthenticated()
    return int(user_id)

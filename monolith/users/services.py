"""The only code that writes users."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import authenticate
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework import status

from monolith.users import events
from monolith.users.models import SpentRefreshToken, User
from servicekit.errors import DomainError, ValidationFailed
from servicekit.tokens import (
    ACCESS,
    REFRESH,
    InvalidToken,
    TokenClaims,
    lifetime,
    token_issue,
    token_verify,
)


class InvalidCredentials(DomainError):
    status_code = status.HTTP_401_UNAUTHORIZED
    error_type = "authentication_failed"


@dataclass(frozen=True)
class Registration:
    """What registering answers: the same whether or not the account was created."""

    username: str
    email: str


def user_register(*, username: str, email: str, password: str) -> Registration:
    """Create the account unless the username or email is in use, and say nothing of which:
    the caller sees the same outcome (and, hashing the password either way, about the same
    time) in both cases."""
    email = email.strip().lower()
    try:
        validate_password(password, user=User(username=username, email=email))
    except DjangoValidationError as exc:
        raise ValidationFailed({"password": list(exc.messages)}) from None
    registration = Registration(username=username, email=email)
    taken = User.objects.filter(Q(username__iexact=username) | Q(email__iexact=email))
    if taken.exists():
        make_password(password)
        return registration
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=email, password=password)
            events.user_registered(user)
    except IntegrityError:  # lost a race with the same username or email: the same answer
        pass
    return registration


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str


def _token_pair(user: User) -> TokenPair:
    claims = TokenClaims(
        user_id=user.pk,
        username=user.get_username(),
        is_staff=user.is_staff,
        version=user.token_version,
    )
    return TokenPair(
        access=token_issue(claims=claims, kind=ACCESS),
        refresh=token_issue(claims=claims, kind=REFRESH),
    )


def token_obtain(*, username: str, password: str) -> TokenPair:
    user = authenticate(username=username, password=password)
    if user is None or not user.is_active:
        raise InvalidCredentials("Wrong username or password.")
    return _token_pair(user)


def token_refresh(*, refresh: str) -> TokenPair:
    """A new pair for a refresh token whose user still has the access it vouches for. A
    refresh token is good for one refresh: its id is spent here, and shown again (it was
    copied, or the client lost the answer) it revokes every token of the user."""
    try:
        claims = token_verify(token=refresh, kind=REFRESH)
    except InvalidToken as exc:
        raise InvalidCredentials(str(exc)) from None
    user = User.objects.filter(pk=claims.user_id).first()
    if user is None or not user.is_active or user.token_version != claims.version:
        raise InvalidCredentials("This refresh token has been revoked; log in again.")
    if not claims.token_id:
        raise InvalidCredentials(
            "This refresh token has no id (it predates rotation); log in again."
        )
    now = timezone.now()
    SpentRefreshToken.objects.filter(expires_at__lt=now).delete()
    try:
        with transaction.atomic():
            SpentRefreshToken.objects.create(
                token_id=claims.token_id,
                user_id=user.pk,
                expires_at=now + timedelta(seconds=lifetime(REFRESH)),
            )
    except IntegrityError:
        user_tokens_revoke(user_id=user.pk)
        raise InvalidCredentials(
            "This refresh token was already used: every token of this account has been "
            "revoked; log in again."
        ) from None
    return _token_pair(user)


def user_tokens_revoke(*, user_id: int) -> None:
    """Refuse every token of the user issued so far, here and on every service."""
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=user_id).first()
        if user is None:
            return
        user.token_version += 1
        user.save(update_fields=["token_version"])
        events.user_access_changed(user, deleted=False)


def user_password_change(*, user_id: int, old_password: str, new_password: str) -> TokenPair:
    """Change the password; every token issued before is refused from then on. Returns a
    new pair for the caller."""
    user = User.objects.filter(pk=user_id).first()
    if user is None or not user.check_password(old_password):
        raise ValidationFailed({"old_password": ["This is not your current password."]})
    try:
        validate_password(new_password, user=user)
    except DjangoValidationError as exc:
        raise ValidationFailed({"new_password": list(exc.messages)}) from None
    user.set_password(new_password)
    user.save(update_fields=["password"])
    return _token_pair(user)

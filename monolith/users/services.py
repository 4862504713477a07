"""The only code that writes users."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import authenticate
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from rest_framework import status

from monolith.users import events
from monolith.users.models import User
from servicekit.errors import DomainError, ValidationFailed
from servicekit.tokens import ACCESS, REFRESH, InvalidToken, TokenClaims, token_issue, token_verify


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
    """A new pair for a refresh token whose user still has the access it vouches for."""
    try:
        claims = token_verify(token=refresh, kind=REFRESH)
    except InvalidToken as exc:
        raise InvalidCredentials(str(exc)) from None
    user = User.objects.filter(pk=claims.user_id).first()
    if user is None or not user.is_active or user.token_version != claims.version:
        raise InvalidCredentials("This refresh token has been revoked; log in again.")
    return _token_pair(user)


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

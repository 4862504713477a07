"""The only code that writes users."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from rest_framework import status

from monolith.users import events
from monolith.users.models import User
from servicekit.errors import DomainError, ValidationFailed
from servicekit.tokens import TokenClaims, token_issue


class InvalidCredentials(DomainError):
    status_code = status.HTTP_401_UNAUTHORIZED
    error_type = "authentication_failed"


def user_register(*, username: str, email: str, password: str) -> User:
    email = email.strip().lower()
    errors: dict[str, list[str]] = {}
    if User.objects.filter(username__iexact=username).exists():
        errors["username"] = ["This username is taken."]
    if User.objects.filter(email__iexact=email).exists():
        errors["email"] = ["An account with this email exists."]
    try:
        validate_password(password, user=User(username=username, email=email))
    except DjangoValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        raise ValidationFailed(errors)
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=email, password=password)
            events.user_registered(user)
            return user
    except IntegrityError:  # lost a race with the same username or email
        raise ValidationFailed({"username": ["This username or email is taken."]}) from None


def token_obtain(*, username: str, password: str) -> str:
    user = authenticate(username=username, password=password)
    if user is None or not user.is_active:
        raise InvalidCredentials("Wrong username or password.")
    return token_issue(
        claims=TokenClaims(user_id=user.pk, username=user.get_username(), is_staff=user.is_staff)
    )

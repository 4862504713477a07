"""Revocation: a token is refused once its user's access changed after it was issued.

The identity side raises a user's token version whenever what the user may do changes
(password, active or staff state, deletion) and announces it (`users.UserAccessChanged`).
Every service keeps the latest state in its own table (servicekit.models.UserAccess),
and the authentication (servicekit.auth) checks a token against it on each request: one
primary-key read, no call to the monolith. A change reaches a service as fast as its
events do (within a second or two when the stack is up).
"""

from __future__ import annotations

from django.db import transaction

from contracts.events.users import UserAccessChangedV1
from servicekit.models import UserAccess
from servicekit.tokens import TokenClaims


def access_record(*, change: UserAccessChangedV1) -> None:
    """Keep `change` unless a later one is already kept (events may come late or twice)."""
    with transaction.atomic():
        kept = UserAccess.objects.select_for_update().filter(pk=change.user_id).first()
        if kept is not None and kept.token_version >= change.token_version:
            return
        UserAccess.objects.update_or_create(
            user_id=change.user_id,
            defaults={
                "token_version": change.token_version,
                "is_active": change.is_active,
                "is_staff": change.is_staff,
                "deleted": change.deleted,
            },
        )


def revocation_reason(claims: TokenClaims) -> str | None:
    """Why a token with `claims` may no longer be used; None when it still may."""
    kept = (
        UserAccess.objects.filter(pk=claims.user_id)
        .values_list("token_version", "is_active", "deleted")
        .first()
    )
    if kept is None:
        return None
    version, is_active, deleted = kept
    if deleted:
        return "the account of this token no longer exists"
    if not is_active:
        return "the account of this token is deactivated"
    if claims.version < version:
        return "token has been revoked (password or permissions changed); log in again"
    return None

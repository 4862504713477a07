"""users' domain events, built from its models and written to the outbox.

The aggregate's sequence is the user's token version: 1 at registration, one more for
each access change (and for the deletion).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contracts.events.users import UserAccessChangedV1, UserRegisteredV1
from messaging.outbox import publish
from servicekit.useraccess import access_record

if TYPE_CHECKING:
    from monolith.users.models import User


def user_registered(user: User) -> None:
    event = UserRegisteredV1(
        user_id=user.pk, username=user.username, email=user.email, is_staff=user.is_staff
    )
    publish(event, sequence=1)


def user_access_changed(user: User, *, deleted: bool) -> None:
    """Tokens of `user` below its token version are refused: here at once (the monolith's
    own access table, in this transaction), on every service when the event reaches it."""
    event = UserAccessChangedV1(
        user_id=user.pk,
        token_version=user.token_version,
        is_active=user.is_active,
        is_staff=user.is_staff,
        deleted=deleted,
    )
    access_record(change=event)
    publish(event, sequence=user.token_version)

"""users' domain events, built from its models and written to the outbox."""

from __future__ import annotations

from contracts.events.users import UserRegisteredV1
from messaging.outbox import publish
from monolith.users.models import User


def user_registered(user: User) -> None:
    event = UserRegisteredV1(
        user_id=user.pk, username=user.username, email=user.email, is_staff=user.is_staff
    )
    publish(event, sequence=1)

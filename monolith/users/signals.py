"""Deletion ends a user's tokens, whichever way it happens (a model, a queryset, the admin)."""

from __future__ import annotations

from typing import Any

from monolith.users import events
from monolith.users.models import User


def user_deleted(sender: type[User], instance: User, **kwargs: Any) -> None:
    # Runs inside the deletion's transaction, so the event exists exactly when it commits.
    instance.token_version += 1
    events.user_access_changed(instance, deleted=True)

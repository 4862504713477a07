"""What other apps may ask of users: plain functions returning dataclasses."""

from __future__ import annotations

from dataclasses import dataclass

from monolith.users import selectors


@dataclass(frozen=True)
class UserInfo:
    id: int
    username: str
    email: str


def user_info_get(*, user_id: int) -> UserInfo | None:
    user = selectors.user_get(user_id=user_id)
    if user is None:
        return None
    return UserInfo(id=user.pk, username=user.username, email=user.email)

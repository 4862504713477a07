"""users: people register in the monolith; services learn them from these events."""

from __future__ import annotations

from contracts.events import Event


class UserRegisteredV1(Event):
    TYPE = "users.UserRegistered"
    VERSION = 1
    AGGREGATE = "users.user"

    user_id: int
    username: str
    email: str
    is_staff: bool

    def aggregate_id(self) -> str:
        return str(self.user_id)

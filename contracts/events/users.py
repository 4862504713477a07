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


class UserAccessChangedV1(Event):
    """What a user may do changed: password, active or staff state, or the account is gone.

    `token_version` is the version a token must carry to be accepted; tokens issued before
    carry a lower one and are refused from then on. A consumer keeps the highest version
    it has seen (the event is the whole state, so a late or repeated one changes nothing).
    """

    TYPE = "users.UserAccessChanged"
    VERSION = 1
    AGGREGATE = "users.user"

    user_id: int
    token_version: int
    is_active: bool
    is_staff: bool
    deleted: bool

    def aggregate_id(self) -> str:
        return str(self.user_id)

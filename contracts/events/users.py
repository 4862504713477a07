"""users: people register in the monolith; services learn them from these events."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

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


class UserAccessStateV1(BaseModel):
    """One user's access as a digest carries it: the data of a UserAccessChanged."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: int
    token_version: int
    is_active: bool
    is_staff: bool
    deleted: bool


class UserAccessDigestV1(Event):
    """The identity side's heartbeat, about once a second: every access change it made
    from `since` up to `as_of` (both its clock). A service that applies it holds every
    change made before `as_of`, provided `since` is no later than the `as_of` of the
    last digest it applied: each digest starts where the one before it ended, less an
    overlap, so digests applied late, twice or out of order still add up. How recent the
    last applied digest is tells a service how far it can trust its copy
    (servicekit.useraccess)."""

    TYPE = "users.UserAccessDigest"
    VERSION = 1
    AGGREGATE = "users.access_digest"

    as_of: datetime
    since: datetime
    changes: list[UserAccessStateV1]

    def aggregate_id(self) -> str:
        return "identity"

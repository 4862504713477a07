"""Event handlers every service but the identity side lists in CARVE_EVENT_HANDLER_MODULES:
they keep the users' access state that servicekit.auth checks tokens against."""

from __future__ import annotations

from contracts.envelope import Envelope
from contracts.events.users import UserAccessChangedV1, UserAccessDigestV1
from messaging.handlers import handles
from servicekit.useraccess import access_record, digest_apply


@handles(UserAccessChangedV1)
def user_access_changed(event: UserAccessChangedV1, envelope: Envelope) -> None:
    access_record(change=event)


@handles(UserAccessDigestV1)
def user_access_digest(event: UserAccessDigestV1, envelope: Envelope) -> None:
    digest_apply(digest=event)

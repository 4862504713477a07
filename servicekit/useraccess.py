"""Revocation: a token is refused once its user's access changed after it was issued, on
every service within CARVE_ACCESS_STALE_SECONDS of the change, whether or not that
service's event worker is up.

The identity side (the monolith) raises a user's token version whenever what the user may
do changes (password, active or staff state, deletion) and announces it
(`users.UserAccessChanged`). Every service keeps the latest state in its own table
(servicekit.models.UserAccess), and the authentication (servicekit.auth) checks a token
against it on each request: one primary-key read, no call to the monolith.

A copy is only as good as its freshness. About once a second the identity side also
publishes a digest (`users.UserAccessDigest`): every change it made since shortly before
the previous digest. Applying one brings the copy up to the digest's `as_of`
(servicekit.models.AccessReplica). So each request also reads `fresh_as_of`:

- recent (within CARVE_ACCESS_STALE_SECONDS): the copy holds every change made before
  it, and decides alone;
- stale (the worker is down or lags, the broker or the identity side's relay is down):
  a revocation the copy knows still stands; otherwise the token is checked with the
  identity side (servicekit.identitycheck; answers are kept a moment per user), and when
  that cannot answer either, the request fails closed: AccessUnknown, a 503 with
  Retry-After, never a 401 (the token may well be good) and never a pass.

The identity side itself (CARVE_IDENTITY_SIDE) writes its table in the transaction of the
change, so its copy is always current.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from contracts.events.users import UserAccessChangedV1, UserAccessDigestV1, UserAccessStateV1
from messaging.inbox import consumer_name
from messaging.models import InboxMessage
from servicekit.identitycheck import IdentityUnavailable, identity_reason
from servicekit.models import AccessReplica, UserAccess
from servicekit.tokens import TokenClaims

log = logging.getLogger("carve.auth")

# A digest a second would fill the inbox; an old one is worth nothing (a later one holds
# all it held), and one delivered again after its inbox row went changes nothing.
PRUNE_EVERY = 60
KEEP_DIGESTS = timedelta(minutes=10)


class AccessUnknown(Exception):
    """Neither this service's copy nor the identity side can say whether a token still
    stands: the request is refused for now (503), not judged."""


def access_reason(
    *, claims: TokenClaims, token_version: int, is_active: bool, deleted: bool
) -> str | None:
    """Why a token with `claims` may no longer be used by a user in this state; None when
    it still may. The one rule, for the copies and for the identity side's own check."""
    if deleted:
        return "the account of this token no longer exists"
    if not is_active:
        return "the account of this token is deactivated"
    if claims.version < token_version:
        return "token has been revoked (password or permissions changed); log in again"
    return None


# ------------------------------------------------------------------ keeping the copy
def access_record(*, change: UserAccessChangedV1 | UserAccessStateV1) -> None:
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


def digest_apply(*, digest: UserAccessDigestV1) -> bool:
    """Keep the digest's changes, and count the copy fresh as of its `as_of` when it joins
    up with what was applied before. False (and an error logged) when it does not: then
    changes may be missing, and the copy stays stale, so tokens are checked with the
    identity side, until an operator repairs it (README: revocation)."""
    with transaction.atomic():
        # One digest at a time, each locking its users' rows in one order: no deadlock.
        replica = AccessReplica.objects.select_for_update().filter(pk=1).first()
        for change in sorted(digest.changes, key=lambda change: change.user_id):
            access_record(change=change)
        if replica is None:
            # The first digest a service applies starts its copy's history.
            AccessReplica.objects.create(pk=1, fresh_as_of=digest.as_of, digests=1)
            return True
        if digest.since > replica.fresh_as_of:
            log.error(
                "user access: a digest covers changes from %s, but this copy holds them only "
                "up to %s: changes in between may be missing, so every token is checked with "
                "the identity side until the copy is repaired",
                digest.since.isoformat(),
                replica.fresh_as_of.isoformat(),
            )
            return False
        replica.fresh_as_of = max(replica.fresh_as_of, digest.as_of)
        replica.digests += 1
        replica.save(update_fields=["fresh_as_of", "digests", "updated_at"])
        if replica.digests % PRUNE_EVERY == 0:
            _forget_old_digests()
        return True


def _forget_old_digests() -> None:
    InboxMessage.objects.filter(
        consumer=consumer_name(),
        event_type=UserAccessDigestV1.TYPE,
        processed_at__lt=timezone.now() - KEEP_DIGESTS,
    ).delete()


def fresh_as_of() -> datetime | None:
    """Up to when (the identity side's clock) this copy holds every access change."""
    return AccessReplica.objects.filter(pk=1).values_list("fresh_as_of", flat=True).first()


def copy_is_current(now: datetime | None = None) -> bool:
    """Whether this service's copy alone may decide: the identity side's own, or one that
    applied a digest less than CARVE_ACCESS_STALE_SECONDS ago."""
    if settings.CARVE_IDENTITY_SIDE:
        return True
    as_of = fresh_as_of()
    if as_of is None:
        return False
    stale_after = timedelta(seconds=float(settings.CARVE_ACCESS_STALE_SECONDS))
    return as_of >= (now or timezone.now()) - stale_after


# ------------------------------------------------------------------ judging a token
def copy_reason(claims: TokenClaims) -> str | None:
    """What this service's copy says of a token (a user it holds no row of has never lost
    access since registering: a new user's token is good)."""
    kept = (
        UserAccess.objects.filter(pk=claims.user_id)
        .values_list("token_version", "is_active", "deleted")
        .first()
    )
    if kept is None:
        return None
    version, is_active, deleted = kept
    return access_reason(claims=claims, token_version=version, is_active=is_active, deleted=deleted)


def revocation_reason(claims: TokenClaims, *, token: str) -> str | None:
    """Why the token `token` (with `claims`) may no longer be used; None when it still may.
    Raises AccessUnknown when that cannot be known now."""
    current = copy_is_current()
    reason = copy_reason(claims)
    if current or reason is not None:  # a revocation, once known, is final
        return reason
    try:
        return identity_reason(claims, token=token)
    except IdentityUnavailable as exc:
        raise AccessUnknown(
            f"this service's copy of user access is stale and the identity side cannot "
            f"be asked ({exc}); retry shortly"
        ) from exc

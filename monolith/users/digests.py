"""The identity side's digests of access changes (`users.UserAccessDigest`), published
about once a second by a periodic job beside the relay (CARVE_PERIODIC_JOBS).

Each carries every row of the monolith's user-access table changed from `since` on, and
`as_of`, the moment up to which it holds them all. `since` is where the previous digest
ended, or, when that is later, CARVE_ACCESS_DIGEST_OVERLAP_SECONDS before the previous
digest was made: a change whose transaction started before then but committed after the
read comes in the next digest. A service that applies them counts its copy fresh up to
`as_of` (servicekit.useraccess).

A digest is not paged: it holds every change of its span, usually none or a few; after a
mass change (or a long stop of the relay) some digests are large, for OVERLAP seconds.
Paging would need the overlap to shrink, and with it the cover for late commits.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from contracts.events.users import UserAccessDigestV1, UserAccessStateV1
from messaging.models import OutboxMessage
from messaging.outbox import publish
from monolith.users.models import AccessDigestMark
from servicekit.models import UserAccess

# One a second would fill the outbox; once sent, a digest is not needed again.
PRUNE_EVERY = 60
KEEP_DIGESTS = timedelta(minutes=10)


def access_digest_publish(*, now: datetime | None = None) -> UserAccessDigestV1 | None:
    """Publish the next digest when CARVE_ACCESS_DIGEST_SECONDS have passed since the last
    one (several relays may run this: one of them does); returns it, or None."""
    now = now or timezone.now()
    every = timedelta(seconds=float(settings.CARVE_ACCESS_DIGEST_SECONDS))
    overlap = timedelta(seconds=float(settings.CARVE_ACCESS_DIGEST_OVERLAP_SECONDS))
    AccessDigestMark.objects.bulk_create(
        [AccessDigestMark(pk=1, as_of=now - overlap, published_at=now - every)],
        ignore_conflicts=True,
    )
    with transaction.atomic():
        mark = AccessDigestMark.objects.select_for_update().get(pk=1)
        if now - mark.published_at < every and mark.published_at <= now:
            return None
        since = min(mark.as_of, mark.published_at - overlap)
        rows = UserAccess.objects.filter(updated_at__gte=since).order_by("updated_at")
        digest = UserAccessDigestV1(
            as_of=now,
            since=since,
            changes=[
                UserAccessStateV1(
                    user_id=row.user_id,
                    token_version=row.token_version,
                    is_active=row.is_active,
                    is_staff=row.is_staff,
                    deleted=row.deleted,
                )
                for row in rows
            ],
        )
        mark.sequence += 1
        mark.as_of = now
        mark.published_at = now
        mark.save()
        publish(digest, sequence=mark.sequence)
        if mark.sequence % PRUNE_EVERY == 0:
            OutboxMessage.objects.filter(
                event_type=UserAccessDigestV1.TYPE, sent_at__lt=now - KEEP_DIGESTS
            ).delete()
    return digest


def publish_job() -> None:
    """CARVE_PERIODIC_JOBS entry."""
    access_digest_publish()

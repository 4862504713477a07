"""What every service keeps of each user's access: enough to refuse a revoked token."""

from __future__ import annotations

from django.db import models


class UserAccess(models.Model):
    """The latest access state of a user, as the identity side announced it.

    The monolith writes it with the change; the services from `users.UserAccessChanged`
    events. A user without a row has never lost access since registering.
    """

    user_id = models.BigIntegerField(primary_key=True)
    token_version = models.PositiveIntegerField()
    is_active = models.BooleanField()
    is_staff = models.BooleanField()
    deleted = models.BooleanField(default=False)
    # The identity side's digests carry the rows it changed since a time (indexed for that).
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        verbose_name_plural = "user access"

    def __str__(self) -> str:
        return f"user {self.user_id} v{self.token_version}"


class AccessReplica(models.Model):
    """How fresh this service's UserAccess rows are: one row, kept by the identity side's
    digests (`users.UserAccessDigest`). Every access change the identity side made before
    `fresh_as_of` (its clock) is in UserAccess; servicekit.useraccess trusts the rows only
    while `fresh_as_of` is recent."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    fresh_as_of = models.DateTimeField()
    digests = models.PositiveBigIntegerField(default=0, help_text="digests applied")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"user access as of {self.fresh_as_of:%Y-%m-%d %H:%M:%S}"


class ThrottleCount(models.Model):
    """How many requests a throttle counted for one client (servicekit.throttles) in the
    window that began at `started` (seconds since the epoch). Kept in the database so that
    counting is one atomic UPDATE, whatever runs the service (threads, processes, hosts)."""

    key = models.CharField(max_length=255, primary_key=True)
    started = models.FloatField()
    count = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.key}: {self.count} since {self.started}"

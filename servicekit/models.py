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
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "user access"

    def __str__(self) -> str:
        return f"user {self.user_id} v{self.token_version}"


class ThrottleCount(models.Model):
    """How many requests a throttle counted for one client (servicekit.throttles) in the
    window that began at `started` (seconds since the epoch). Kept in the database so that
    counting is one atomic UPDATE, whatever runs the service (threads, processes, hosts)."""

    key = models.CharField(max_length=255, primary_key=True)
    started = models.FloatField()
    count = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.key}: {self.count} since {self.started}"

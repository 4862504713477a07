from typing import Any

from django.contrib.auth.models import AbstractUser
from django.db import models, transaction

from monolith.users import events

# What a token vouches for: a change to any of these ends the tokens issued before it.
ACCESS_FIELDS = ("password", "is_active", "is_staff", "is_superuser")


class User(AbstractUser):
    """A person who shops. Users stay in the monolith; services learn them from events."""

    email = models.EmailField(unique=True)
    # Carried by every token as `ver`; raised on each change of ACCESS_FIELDS (and on
    # deletion), which every service learns from users.UserAccessChanged.
    token_version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        ordering = ["id"]

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Every write path through the model (services, admin, createsuperuser, shell)
        revokes older tokens when it changes what the user may do."""
        update_fields = kwargs.get("update_fields")
        if self._state.adding or (
            update_fields is not None and not set(update_fields) & set(ACCESS_FIELDS)
        ):
            super().save(*args, **kwargs)
            return
        with transaction.atomic():
            before = (
                type(self)
                .objects.select_for_update()
                .filter(pk=self.pk)
                .values("token_version", *ACCESS_FIELDS)
                .first()
            )
            changed = before is not None and any(
                before[name] != getattr(self, name) for name in ACCESS_FIELDS
            )
            if before is not None and changed:
                self.token_version = before["token_version"] + 1
                if update_fields is not None:
                    kwargs["update_fields"] = {*update_fields, "token_version"}
            super().save(*args, **kwargs)
            if changed:
                events.user_access_changed(self, deleted=False)


class SpentRefreshToken(models.Model):
    """A refresh token (by its `jti`) already exchanged for a new pair: shown again, it
    was copied, and every token of its user is revoked (services.token_refresh). Kept
    until the token would have expired anyway."""

    token_id = models.CharField(max_length=64, primary_key=True)
    user_id = models.BigIntegerField()
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"refresh token {self.token_id} of user {self.user_id}"


class AccessDigestMark(models.Model):
    """Where the identity side's digests of access changes got to (monolith.users.digests):
    one row. The next digest starts from here, so none is ever skipped, however long the
    relay that publishes them was down."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    sequence = models.PositiveBigIntegerField(default=0)
    as_of = models.DateTimeField(help_text="every change before this was in a digest")
    published_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"access digest #{self.sequence} as of {self.as_of:%Y-%m-%d %H:%M:%S}"

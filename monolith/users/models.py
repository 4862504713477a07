from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A person who shops. Users stay in the monolith; services learn them from events."""

    email = models.EmailField(unique=True)

    class Meta:
        ordering = ["id"]

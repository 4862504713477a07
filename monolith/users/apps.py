from django.apps import AppConfig
from django.db.models.signals import post_delete


class UsersConfig(AppConfig):
    name = "monolith.users"
    label = "users"

    def ready(self) -> None:
        from monolith.users.models import User
        from monolith.users.signals import user_deleted

        post_delete.connect(user_deleted, sender=User, dispatch_uid="users.user_deleted")

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Create an admin (superuser) if none has this username; idempotent. For demos."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", default="admin")
        parser.add_argument("--email", default="admin@example.com")

    def handle(self, *args: Any, username: str, password: str, email: str, **options: Any) -> None:
        users = get_user_model()._default_manager
        if users.filter(username=username).exists():
            self.stdout.write(f"superuser {username} exists")
            return
        get_user_model()._default_manager.create_superuser(username, email, password)
        self.stdout.write(f"superuser {username} created")

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from messaging.relay import serve


class Command(BaseCommand):
    help = (
        "Publish this service's outbox to the broker until stopped (Ctrl-C / SIGTERM). "
        "Safe to run several: they share the work without reordering an aggregate."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size", type=int, default=500, help="rows per round (default 500)"
        )

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        if batch_size < 1:
            self.stderr.write("--batch-size must be at least 1")
            raise SystemExit(2)
        serve(batch_size, self.stdout.write)

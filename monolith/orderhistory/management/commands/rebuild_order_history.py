from django.core.management.base import BaseCommand, CommandError, CommandParser

from monolith.orderhistory import services


class Command(BaseCommand):
    help = (
        "Empty the order history read model and rebuild it from the events this service "
        "kept in its inbox (orders, payments and inventory reservation events), in the "
        "order they were processed. One transaction: on failure the old rows stay; live "
        "events wait for it to finish and then apply on top."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size", type=int, default=500, help="events read and applied at a time"
        )
        parser.add_argument(
            "--progress-every", type=int, default=10_000, help="print a progress line every N"
        )

    def handle(
        self, *args: object, batch_size: int, progress_every: int, **options: object
    ) -> None:
        for name, value in (("--batch-size", batch_size), ("--progress-every", progress_every)):
            if value < 1:
                raise CommandError(f"{name} must be at least 1, got {value}")

        def progress(count: int) -> None:
            self.stdout.write(f"rebuild_order_history: {count} events replayed")

        try:
            report = services.order_history_rebuild(
                batch_size=batch_size, progress_every=progress_every, progress=progress
            )
        except services.RebuildError as exc:
            raise CommandError(f"{exc}; the order history was left as it was")
        self.stdout.write(
            f"rebuild_order_history: done, {report.events} events replayed into "
            f"{report.rows} orders"
        )

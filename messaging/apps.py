from django.apps import AppConfig


class MessagingConfig(AppConfig):
    """Outbox, inbox and dead letters: each service that installs it keeps its own tables."""

    name = "messaging"
    label = "messaging"
    verbose_name = "Events"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from messaging import handlers, ownership  # noqa: F401 - registers the handover handler
        from messaging.metrics import EventsCollector
        from servicekit.metrics import register_collector

        handlers.load_handler_modules()
        register_collector("messaging", EventsCollector())

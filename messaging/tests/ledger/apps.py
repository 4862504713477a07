from django.apps import AppConfig


class LedgerConfig(AppConfig):
    """A consumer used only by the messaging tests: it writes down every effect."""

    name = "messaging.tests.ledger"
    label = "ledger"

from django.apps import AppConfig


class OrderHistoryConfig(AppConfig):
    """A read model: one row per order with its payment and stock state, fed by events."""

    name = "monolith.orderhistory"
    label = "orderhistory"
    verbose_name = "Order history"

from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo and benchmark data for the example monolith (no models of its own)."""

    name = "monolith.demo"
    label = "demo"

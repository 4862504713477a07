from django.apps import AppConfig


class ServicekitConfig(AppConfig):
    """Installed for its management commands (ensure_superuser)."""

    name = "servicekit"
    label = "servicekit"

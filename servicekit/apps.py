from django.apps import AppConfig


class ServicekitConfig(AppConfig):
    """Installed for the users' access table (revoked tokens), its management commands
    (ensure_superuser) and its OpenAPI extensions."""

    name = "servicekit"
    label = "servicekit"

    def ready(self) -> None:
        from servicekit import schema  # noqa: F401  (registers the token's security scheme)

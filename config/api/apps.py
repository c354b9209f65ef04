from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The API kit: what every endpoint shares, and the one table it keeps (idempotency)."""

    name = "config.api"
    label = "api"
    verbose_name = "API"

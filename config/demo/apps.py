from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Holds the seeding commands; it has no models."""

    name = "config.demo"
    label = "demo"
    verbose_name = "Demo data"

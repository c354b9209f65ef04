from django.apps import AppConfig


class BookingsConfig(AppConfig):
    name = "bookings"

    def ready(self) -> None:
        from bookings import signals  # noqa: F401  (connects the cache invalidation receivers)

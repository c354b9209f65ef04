"""The engine in the admin: the catalogue, bookings and their emails (bookings.py), maintenance
windows and car reviews (resources.py)."""

from bookings.admin import bookings, resources

__all__ = ["bookings", "resources"]

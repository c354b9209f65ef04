"""Reporting: figures per location, resource, service and day, in tables writes mark stale."""

"""Reporting from materialized views (the analytics issue)."""

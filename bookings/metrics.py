"""What the booking engine counts for /metrics (config/operations/exporter.py serves it)."""

from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from django.db import transaction
from prometheus_client import Counter

from config.api.errors import DomainError

T = TypeVar("T")

BOOKINGS_CREATED = Counter(
    "booking_bookings_created_total",
    "Bookings created (counted when their transaction commits), by source.",
    ["source"],
)
BOOKINGS_REFUSED = Counter(
    "booking_bookings_refused_total",
    "Booking requests the engine refused, by the refusal's error code (slot_taken, too_soon...).",
    ["reason"],
)
AVAILABILITY_CACHE = Counter(
    "booking_availability_cache_days_total",
    "Days of availability asked for: found in the cache (hit) or computed (miss). While Redis "
    "is down the cache is each process's own (config.cache.SharedOrLocalCache).",
    ["result"],
)
ANSWER_CACHE = Counter(
    "booking_answer_cache_total",
    "Anonymous catalogue reads served whole from the cache (hit) or by the views (miss): "
    "bookings.api.answers.",
    ["result"],
)


def counted_booking(create: Callable[..., T]) -> Callable[..., T]:
    """Count a booking service's outcome: created once its transaction commits, or refused
    with the refusal's code."""

    @wraps(create)
    def counted(**booking) -> T:
        try:
            created = create(**booking)
        except DomainError as refusal:
            BOOKINGS_REFUSED.labels(refusal.code).inc()
            raise
        transaction.on_commit(lambda: BOOKINGS_CREATED.labels(created.source).inc())
        return created

    return counted

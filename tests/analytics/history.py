"""What the figure and refresh tests share: bookings written after the fact, the views."""

from datetime import datetime, timedelta
from decimal import Decimal
from itertools import count

from django.db import connection, transaction
from django_scopes import scopes_disabled

from analytics.models import ReportView, ViewRefresh
from bookings.models import Booking, BookingSource, BookingStatus, PaymentStatus

_codes = count(1)


def past_booking(
    *,
    service,
    resource,
    customer,
    starts_at: datetime,
    ends_at: datetime | None = None,
    status: str = BookingStatus.COMPLETED,
    payment_status: str = PaymentStatus.PAID,
    total_price: str = "30.00",
    created_at: datetime,
) -> Booking:
    """A booking as it stands once it happened, written directly.

    The engine refuses to book the past and moves a status one step at a time; the views only
    read the bookings table, so the rows are written as they would stand at the end.
    """
    with scopes_disabled():
        booking = Booking.objects.create(
            organization=resource.organization,
            location=resource.location,
            customer=customer,
            service=service,
            resource=resource,
            starts_at=starts_at,
            ends_at=ends_at or starts_at + timedelta(minutes=service.duration_minutes),
            status=status,
            payment_status=payment_status,
            total_price=Decimal(total_price),
            currency=resource.organization.currency,
            code=f"AN{next(_codes):06d}",
            source=BookingSource.STAFF,
        )
        # created_at is auto_now_add: it can only be set afterwards.
        Booking.objects.filter(pk=booking.pk).update(created_at=created_at)
    booking.created_at = created_at
    return booking


def refresh_counts() -> dict[str, int]:
    """Each view's refresh_count (0 for a view never recorded)."""
    counts = dict(ViewRefresh.objects.values_list("view", "refresh_count"))
    return {view.value: counts.get(view.value, 0) for view in ReportView}


def views_emptied() -> None:
    """Refresh every view as of 2000-01-01: no booking's day is before it, so they hold no row.

    Committed refreshes outlive a transactional test (its flush empties tables, not views), so
    tests that commit leave the views as empty as they found them.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('analytics.as_of', '2000-01-01T00:00:00+00:00', true)")
        for view in ReportView:
            cursor.execute(f"REFRESH MATERIALIZED VIEW {view.value}")

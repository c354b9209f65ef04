"""The booking's timeline: every service records what it changed, who did it and when."""

from accounts.models import User
from bookings.models import Booking, BookingEvent


def event_record(
    booking: Booking,
    *,
    kind: str,
    actor: User | None,
    from_status: str = "",
    to_status: str = "",
    changes: dict | None = None,
) -> BookingEvent:
    return BookingEvent.objects.create(
        organization_id=booking.organization_id,
        booking=booking,
        kind=kind,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        changes=changes or {},
    )

"""The booking's timeline: every service records what it changed, who did it and when.

It is also where staff's booking changes reach the audit trail (accounts.audit): every service
that changes a booking passes here, so no change by staff escapes it, and a customer's own
changes (booking, cancelling on the pages or in the app) stay out of it.
"""

from accounts.audit import audit_record, is_staff_of
from accounts.models import AuditAction, User
from bookings.models import Booking, BookingEvent, BookingSource


def event_record(booking: Booking, **fields) -> BookingEvent:
    """Save the timeline entry (the fields event_row takes) and put it on the audit trail."""
    event = event_row(booking, **fields)
    event.save(force_insert=True)
    event_audit(event)
    return event


def event_row(
    booking: Booking,
    *,
    kind: str,
    actor: User | None,
    from_status: str = "",
    to_status: str = "",
    changes: dict | None = None,
) -> BookingEvent:
    """The unsaved timeline entry, for a service that writes it together with the booking."""
    return BookingEvent(
        organization_id=booking.organization_id,
        booking=booking,
        kind=kind,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        changes=changes or {},
    )


def event_audit(event: BookingEvent) -> None:
    """Put a saved entry by staff on the audit trail; every entry passes here once saved
    (event_record does it, a service that wrote the entry itself calls it)."""
    booking, actor = event.booking, event.actor
    if _by_staff(booking, kind=event.kind, actor=actor):
        # The timeline holds what changed (a reason typed, a price); the trail points at it.
        audit_record(
            actor=actor,
            action=AuditAction.BOOKING_CHANGED,
            organization_id=booking.organization_id,
            target=booking,
            details={
                "event": event.kind,
                "booking_event_id": event.pk,
                "code": booking.code,
                "customer_id": booking.customer_id,
            },
        )


def _by_staff(booking: Booking, *, kind: str, actor: User | None) -> bool:
    """A booking made on the pages or in the app is its customer's own doing, whoever signed
    in (asking their roles would cost the customer's booking a query); every later change is
    staff's when the actor works for the organization."""
    if kind == "created" and booking.source != BookingSource.STAFF:
        return False
    return is_staff_of(actor, booking.organization_id)

"""Moving a booking to another time or resource."""

from datetime import datetime, timedelta

from django.db import transaction

from accounts.models import User
from bookings.errors import InvalidBookingRequest, InvalidTransition, SlotUnavailable
from bookings.models import Booking, EmailKind, Occupancy, ServiceKind
from bookings.notifications import email_queue
from bookings.policy import UPCOMING_STATUSES, books_at_the_desk, check_cutoff
from bookings.pricing import quote
from bookings.services.creation import candidates
from bookings.services.lifecycle import locked_for_change
from bookings.services.occupancy import occupied_period, occupy
from bookings.services.timeline import event_record
from fleet.models import Resource


@transaction.atomic
def booking_reschedule(
    *,
    actor: User | None,
    booking: Booking,
    expected_version: int,
    starts_at: datetime,
    ends_at: datetime | None = None,
    resource: Resource | None = None,
) -> Booking:
    """Move a booking to another period; the old one is released only if the new one is taken.

    The occupancy row is updated in place inside one transaction, so PostgreSQL checks the new
    period against every other booking and a refusal leaves the old period untouched.
    """
    check_cutoff(actor, booking, what="rescheduled")
    booking = locked_for_change(booking, expected_version)
    if booking.status not in UPCOMING_STATUSES:
        raise InvalidTransition(
            f"A {booking.get_status_display().lower()} booking cannot be rescheduled."
        )
    service = booking.service
    if service.kind == ServiceKind.APPOINTMENT:
        ends_at = starts_at + timedelta(minutes=service.duration_minutes)
    elif ends_at is None or ends_at <= starts_at:
        raise InvalidBookingRequest("A rental needs a return time after its pick-up time.")
    # The booking's own occupancy must not count against it while looking for the new slot.
    occupancy = Occupancy.objects.get(booking=booking)
    occupancy.delete()
    free_resources = candidates(
        at_the_desk=books_at_the_desk(actor, service.organization),
        service=service,
        location=booking.location,
        starts_at=starts_at,
        ends_at=ends_at,
        resource=resource or (booking.resource if service.kind == ServiceKind.RENTAL else None),
    )
    before = {
        "starts_at": booking.starts_at.isoformat(),
        "ends_at": booking.ends_at.isoformat(),
        "resource": booking.resource.name,
    }
    for candidate in free_resources:
        booking.starts_at, booking.ends_at, booking.resource = starts_at, ends_at, candidate
        occupied_from, occupied_to = occupied_period(booking)
        if occupy(
            resource=candidate, starts_at=occupied_from, ends_at=occupied_to, booking=booking
        ):
            price = quote(
                service=service,
                location=booking.location,
                starts_at=starts_at,
                ends_at=ends_at,
                resource=candidate,
                vehicle_type=booking.vehicle_type,
            )
            booking.total_price = price.total
            booking.save(update_fields=["starts_at", "ends_at", "resource", "total_price"])
            event_record(
                booking,
                kind="rescheduled",
                actor=actor,
                from_status=booking.status,
                to_status=booking.status,
                changes={
                    "from": before,
                    "to": {
                        "starts_at": starts_at.isoformat(),
                        "ends_at": ends_at.isoformat(),
                        "resource": candidate.name,
                    },
                },
            )
            email_queue(booking, kind=EmailKind.CHANGE, event_key=f"rescheduled:{booking.version}")
            return booking
    # The candidates obey every rule but the race: the constraint refused them all.
    raise SlotUnavailable("This time is not available.")

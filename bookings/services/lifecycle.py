"""The lifecycle moves of a booking: confirm, start, complete, no-show, cancel.

Each move checks the caller's version (optimistic locking), is one of policy.STATUS_MOVES,
gives the resource's time back when the booking no longer holds it, and records the move.
"""

from collections.abc import Callable

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from bookings.errors import InvalidTransition, StaleVersion
from bookings.models import Booking, BookingStatus, EmailKind, Occupancy
from bookings.notifications import email_queue
from bookings.policy import RELEASING_STATUSES, STATUS_MOVES, check_cutoff
from bookings.services.timeline import event_record


def locked_for_change(booking: Booking, expected_version: int) -> Booking:
    """Bump the version if nobody changed the booking since `expected_version`; else refuse."""
    updated = Booking.objects.filter(pk=booking.pk, version=expected_version).update(
        version=F("version") + 1, updated_at=timezone.now()
    )
    if not updated:
        raise StaleVersion("This booking was changed by someone else. Reload it and try again.")
    return Booking.objects.select_related("service", "organization").get(pk=booking.pk)


@transaction.atomic
def _transition(
    booking: Booking,
    *,
    to_status: str,
    actor: User | None,
    expected_version: int,
    kind: str,
    **changes,
) -> Booking:
    booking = locked_for_change(booking, expected_version)
    if to_status not in STATUS_MOVES[booking.status]:
        raise InvalidTransition(
            f"A {booking.get_status_display().lower()} booking cannot become "
            f"{BookingStatus(to_status).label.lower()}.",
            from_status=booking.status,
            to_status=to_status,
        )
    from_status = booking.status
    booking.status = to_status
    for field, value in changes.items():
        setattr(booking, field, value)
    booking.save(update_fields=["status", *changes])
    if to_status in RELEASING_STATUSES:
        Occupancy.objects.filter(booking=booking).delete()
    event_record(
        booking,
        kind=kind,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        changes=changes,
    )
    return booking


@transaction.atomic
def booking_confirm(*, actor: User | None, booking: Booking, expected_version: int) -> Booking:
    """The business accepts a pending booking; the customer is told by email."""
    booking = _transition(
        booking,
        to_status=BookingStatus.CONFIRMED,
        actor=actor,
        expected_version=expected_version,
        kind="confirmed",
    )
    email_queue(booking, kind=EmailKind.CONFIRMED, event_key="confirmed")
    return booking


def booking_start(*, actor: User | None, booking: Booking, expected_version: int) -> Booking:
    return _transition(
        booking,
        to_status=BookingStatus.IN_PROGRESS,
        actor=actor,
        expected_version=expected_version,
        kind="started",
    )


def booking_complete(*, actor: User | None, booking: Booking, expected_version: int) -> Booking:
    return _transition(
        booking,
        to_status=BookingStatus.COMPLETED,
        actor=actor,
        expected_version=expected_version,
        kind="completed",
    )


def booking_mark_no_show(*, actor: User | None, booking: Booking, expected_version: int) -> Booking:
    return _transition(
        booking,
        to_status=BookingStatus.NO_SHOW,
        actor=actor,
        expected_version=expected_version,
        kind="no_show",
    )


@transaction.atomic
def booking_cancel(
    *, actor: User | None, booking: Booking, expected_version: int, reason: str = ""
) -> Booking:
    """Cancel and give the time back. Customers are held to the organization's cut-off."""
    check_cutoff(actor, booking, what="cancelled")
    booking = _transition(
        booking,
        to_status=BookingStatus.CANCELLED,
        actor=actor,
        expected_version=expected_version,
        kind="cancelled",
        cancellation_reason=reason,
    )
    email_queue(booking, kind=EmailKind.CANCELLATION, event_key="cancelled")
    return booking


# The moves staff make by name (the staff API's URL segment, the desk's buttons): the status
# each leads to, and the service that makes it. Cancel is apart: it takes a reason.
STAFF_MOVES: dict[str, tuple[str, Callable[..., Booking]]] = {
    "confirm": (BookingStatus.CONFIRMED, booking_confirm),
    "start": (BookingStatus.IN_PROGRESS, booking_start),
    "complete": (BookingStatus.COMPLETED, booking_complete),
    "no-show": (BookingStatus.NO_SHOW, booking_mark_no_show),
}

"""The booking lifecycle's rules in one place: which status moves are legal, which statuses
hold a resource's time, and until when a customer may still change a booking.

Services (bookings.services) enforce these; pages, admin and API only read them, so a button
is offered exactly when the service would accept the move.
"""

from datetime import datetime, timedelta

from django.utils import timezone

from accounts.models import User
from bookings.errors import CancellationTooLate
from bookings.models import Booking, BookingStatus

# The legal moves of the lifecycle; bookings.services refuses any other. A pending booking
# (made online, not yet confirmed) may go straight to "arrived" or "no-show": the customer is
# at the desk, or clearly is not, and making staff confirm first would only add a click and a
# false line to the timeline.
STATUS_MOVES: dict[str, frozenset[str]] = {
    BookingStatus.PENDING: frozenset(
        {
            BookingStatus.CONFIRMED,
            BookingStatus.IN_PROGRESS,
            BookingStatus.CANCELLED,
            BookingStatus.NO_SHOW,
        }
    ),
    BookingStatus.CONFIRMED: frozenset(
        {BookingStatus.IN_PROGRESS, BookingStatus.CANCELLED, BookingStatus.NO_SHOW}
    ),
    BookingStatus.IN_PROGRESS: frozenset({BookingStatus.COMPLETED}),
    BookingStatus.COMPLETED: frozenset(),
    BookingStatus.CANCELLED: frozenset(),
    BookingStatus.NO_SHOW: frozenset(),
}
# Not yet started: the booking may still be moved, cancelled or reminded of.
UPCOMING_STATUSES = frozenset({BookingStatus.PENDING, BookingStatus.CONFIRMED})
# Statuses that give the resource's time back (their Occupancy row is deleted).
RELEASING_STATUSES = frozenset({BookingStatus.CANCELLED, BookingStatus.NO_SHOW})
# Everything else holds the resource's time.
HOLDING_STATUSES = frozenset(BookingStatus.values) - RELEASING_STATUSES

# Who passes the cancellation cut-off: whoever the role table lets change this booking.
CHANGE_BOOKING = "bookings.change_booking"
# Who books for customers at the desk (walk-ins, phone calls).
ADD_BOOKING = "bookings.add_booking"


def books_at_the_desk(actor: User | None, organization) -> bool:
    """Staff booking for a customer: the role table lets them add bookings here."""
    return actor is not None and actor.has_perm(ADD_BOOKING, organization)


def booking_notice(service, *, at_the_desk: bool) -> timedelta:
    """How soon a booking may start. Customers give the service's minimum notice; at the desk
    the customer is standing there, so staff may book the slot already under way."""
    if at_the_desk:
        return -timedelta(minutes=service.slot_granularity_minutes)
    return timedelta(minutes=service.minimum_notice_minutes)


def customer_change_deadline(booking: Booking) -> datetime:
    """Until when the customer may cancel or reschedule: the organization's cut-off."""
    return booking.starts_at - booking.organization.cancellation_cutoff


def customer_may_change(booking: Booking) -> bool:
    return booking.status in UPCOMING_STATUSES and timezone.now() <= customer_change_deadline(
        booking
    )


def is_bound_by_cutoff(actor: User | None, booking: Booking) -> bool:
    """The cut-off protects the business from its customers, not from its staff: it binds
    anyone the role table does not let change this booking (a guest, a customer's account)."""
    return actor is None or not actor.has_perm(CHANGE_BOOKING, booking)


def _in_words(duration: timedelta) -> str:
    """48 hours -> "2 days", 90 minutes -> "90 minutes": cut-offs as a customer reads them."""
    minutes = int(duration.total_seconds() // 60)
    for unit, size in (("day", 24 * 60), ("hour", 60), ("minute", 1)):
        if minutes >= size and minutes % size == 0:
            count = minutes // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{minutes} minutes"


def check_cutoff(actor: User | None, booking: Booking, *, what: str) -> None:
    """Refuse a change past the cut-off by someone it binds."""
    if is_bound_by_cutoff(actor, booking) and timezone.now() > customer_change_deadline(booking):
        raise CancellationTooLate(
            f"Bookings can be {what} up to {_in_words(booking.organization.cancellation_cutoff)} "
            "before they start. Please contact the business."
        )

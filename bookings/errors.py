"""The booking engine's refusals. Each carries its code and HTTP status (config.api.errors), so
the booking pages, the admin and the API answer a refusal alike."""

from rest_framework import status

from config.api.errors import DomainError


class SlotUnavailable(DomainError):
    """Someone else holds the time: the exclusion constraint refused it, or the slot grid shows
    it taken by bookings. 409: the data changed (or was never free); another time may be.

    The subclasses below are the times the rules refuse whoever else books: each has its own
    code, and 422 (Unprocessable Content) because the request is well formed but can never
    succeed as asked at that time, however often it is retried. They derive from this class so
    that every page and desk that offers the nearest free times for a refused time (`except
    SlotUnavailable`) offers them for these too.
    """

    code = "slot_taken"
    status_code = status.HTTP_409_CONFLICT


class TooSoon(SlotUnavailable):
    """The start is closer than the service's minimum notice."""

    code = "too_soon"
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY


class TooFarAhead(SlotUnavailable):
    """The start or end is further ahead than the service's maximum advance days."""

    code = "too_far_ahead"
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY


class OutsideOpeningHours(SlotUnavailable):
    """The time is outside the location's opening hours of that day."""

    code = "outside_opening_hours"
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY


class OffGrid(SlotUnavailable):
    """The location is open, but the start is not on the service's slot grid (every
    slot_granularity_minutes from opening)."""

    code = "off_grid"
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY


class LocationClosed(SlotUnavailable):
    """Within opening hours, but a closure (a holiday, a half day) covers the time."""

    code = "closed"
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY


class InvalidTransition(DomainError):
    """The booking's status does not allow this move."""

    code = "invalid_transition"
    status_code = status.HTTP_409_CONFLICT


class StaleVersion(DomainError):
    """The booking changed since the caller read it; they must reload and retry."""

    code = "stale_version"
    status_code = status.HTTP_409_CONFLICT


class CancellationTooLate(DomainError):
    """The organization's cancellation cut-off has passed."""

    code = "cancellation_too_late"
    status_code = status.HTTP_409_CONFLICT


class InvalidBookingRequest(DomainError):
    """The request does not describe a bookable thing (wrong location, inactive service...)."""

    code = "invalid_booking"
    status_code = status.HTTP_400_BAD_REQUEST


class ReviewNotAllowed(DomainError):
    """Only the customer of a completed rental may review the car, once."""

    code = "review_not_allowed"
    status_code = status.HTTP_409_CONFLICT


class PaymentRefused(DomainError):
    """The amount cannot be taken or given back: more than is owed or was paid, not a sum of
    money, or a booking that takes no more payments. 409: it is the booking's state that
    refuses (a form or serializer checks the amount's shape first, as a 400)."""

    code = "payment_refused"
    status_code = status.HTTP_409_CONFLICT

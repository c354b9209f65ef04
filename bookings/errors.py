"""The booking engine's refusals. Each carries its code and HTTP status (config.api.errors), so
the booking pages, the admin and the API answer a refusal alike."""

from rest_framework import status

from config.api.errors import DomainError


class SlotUnavailable(DomainError):
    """The period is not bookable: taken, closed, outside the booking window."""

    code = "slot_taken"
    status_code = status.HTTP_409_CONFLICT


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

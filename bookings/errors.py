"""Domain errors raised by services; pages and the API map `code` to an answer (409, 400...)."""


class DomainError(Exception):
    """A rule of the booking domain refused the request; `code` is machine-readable."""

    code = "domain_error"

    def __init__(self, message: str, **details) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class SlotUnavailable(DomainError):
    """The period is not bookable: taken, closed, outside the booking window."""

    code = "slot_taken"


class InvalidTransition(DomainError):
    """The booking's status does not allow this move."""

    code = "invalid_transition"


class StaleVersion(DomainError):
    """The booking changed since the caller read it; they must reload and retry."""

    code = "stale_version"


class CancellationTooLate(DomainError):
    """The organization's cancellation cut-off has passed."""

    code = "cancellation_too_late"


class InvalidBookingRequest(DomainError):
    """The request does not describe a bookable thing (wrong location, inactive service...)."""

    code = "invalid_booking"


class ReviewNotAllowed(DomainError):
    """Only the customer of a completed rental may review the car, once."""

    code = "review_not_allowed"

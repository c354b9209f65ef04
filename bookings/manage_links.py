"""Links that let a customer manage a booking without an account.

A token is the booking's and organization's ids signed with SECRET_KEY and a timestamp
(django.core.signing): it cannot be guessed or altered, it expires after
BOOKING_MANAGE_LINK_MAX_AGE, and it opens the booking only under its own organization's URL.
Every email carries a freshly signed one, so the reminder renews a link that was about to expire.
"""

from django.conf import settings
from django.core import signing
from django.urls import reverse

from accounts.models import Organization
from bookings.models import Booking

SALT = "bookings.manage-link"
NOT_VALID = "This link is not valid. Check that it was copied whole."


class ManageLinkRefused(Exception):
    """The link is expired, altered, or belongs to another organization; `message` says which."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def manage_token(booking: Booking) -> str:
    return signing.dumps(
        {"booking": booking.pk, "organization": booking.organization_id}, salt=SALT
    )


def manage_url(booking: Booking) -> str:
    """The absolute link for emails, which are sent without a request to build it from."""
    path = reverse(
        "pages:booking-manage",
        kwargs={"organization_slug": booking.organization.slug, "token": manage_token(booking)},
    )
    return f"{settings.SITE_URL.rstrip('/')}{path}"


def booking_for_manage_token(token: str, *, organization: Organization) -> Booking:
    """The booking a token opens, at this organization; ManageLinkRefused otherwise."""
    try:
        payload = signing.loads(token, salt=SALT, max_age=settings.BOOKING_MANAGE_LINK_MAX_AGE)
    except signing.SignatureExpired as error:
        raise ManageLinkRefused(
            "This link has expired. Find your booking with its confirmation code and email."
        ) from error
    except signing.BadSignature as error:
        raise ManageLinkRefused(NOT_VALID) from error
    if not isinstance(payload, dict) or payload.get("organization") != organization.pk:
        raise ManageLinkRefused(NOT_VALID)
    booking = (
        Booking.objects.filter(pk=payload.get("booking"), organization=organization)
        .select_related("organization", "location", "service", "resource", "customer")
        .first()
    )
    if booking is None:
        raise ManageLinkRefused(NOT_VALID)
    return booking

"""Which bookings an actor may reach: one funnel for the staff API, the admin workspace and
the customer's own bookings, so a rule of access is written once (Zulip's `access_*`)."""

from django.db.models import Q, QuerySet
from django.http import Http404

from accounts.models import Customer, User
from accounts.roles import permitted
from bookings.models import Booking, BookingSource
from config.row_security import platform_wide


def access_booking(actor: User, code: str, permission: str) -> Booking:
    """The booking with this confirmation code if the role table grants `permission` on it;
    Http404 otherwise, exactly as for a code that does not exist."""
    booking = (
        permitted(actor, permission, Booking.objects.all())
        .select_related("organization", "location", "service", "resource", "customer")
        .filter(code=code)
        .first()
    )
    if booking is None:
        raise Http404("No booking with this code.")
    return booking


def booking_by_code_and_email(code: str, email: str) -> Booking | None:
    """A guest's way back to their booking without its link: both must match (in the scope of
    the URL's organization)."""
    return (
        Booking.objects.filter(code=code)
        .filter(Customer.email_is(email, path="customer__"))
        .first()
    )


def account_bookings(user) -> QuerySet:
    """A signed-in customer's bookings: those of their linked customer profiles, and those they
    made through the API on a guest profile with their email (accounts.services explains why
    such a profile is not linked). Runs in the scope of `account_organization_ids`."""
    return Booking.objects.filter(
        Q(customer__user_id=user.pk) | Q(created_by_id=user.pk, source=BookingSource.API)
    )


def account_organization_ids(user) -> list[int]:
    """The organizations a signed-in customer has bookings with, read before any scope exists."""
    with platform_wide("a customer's organizations, read before any scope"):
        return sorted(
            set(Customer.objects.filter(user=user).values_list("organization_id", flat=True))
            | set(
                Booking.objects.filter(created_by=user, source=BookingSource.API)
                .values_list("organization_id", flat=True)
                .distinct()
            )
        )

"""A customer's history with the business, as the desk sees it: their bookings, what they
spent, how often they cancelled or did not come."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Case, Count, F, Q, QuerySet, Sum, When
from django.utils import timezone

from accounts.models import Customer, User
from accounts.roles import permitted
from bookings.models import Booking, BookingStatus, Payment, PaymentKind

# How many past bookings the page lists (the latest); the totals always cover every booking.
PAST_SHOWN = 100

# What the customer has spent: the money the business kept from them, their payments less
# refunds (the rows of bookings.models.Payment), as the dashboard counts revenue.
SPENT = Sum(
    Case(When(kind=PaymentKind.REFUND, then=-F("amount")), default=F("amount")),
    default=Decimal("0"),
)


@dataclass(frozen=True)
class CustomerHistory:
    customer: Customer
    upcoming: list[Booking]  # soonest first; bookings not over yet, whatever their status
    past: list[Booking]  # latest first, at most PAST_SHOWN
    past_count: int
    total_spent: Decimal
    currency: str
    no_shows: int
    cancellations: int


def customer_history(
    user: User, customer: Customer, *, now: datetime | None = None
) -> CustomerHistory:
    """The bookings of `customer` that `user` may see (accounts.roles: a manager sees their
    locations', a staff member their own schedule's), and the totals over those same bookings.

    Three queries whatever the number of bookings.
    """
    now = now or timezone.now()
    bookings: QuerySet[Booking] = permitted(
        user, "bookings.view_booking", Booking.objects.filter(customer=customer)
    )
    listed = bookings.select_related("service", "resource", "location")
    totals = bookings.aggregate(
        past_count=Count("pk", filter=Q(ends_at__lte=now)),
        no_shows=Count("pk", filter=Q(status=BookingStatus.NO_SHOW)),
        cancellations=Count("pk", filter=Q(status=BookingStatus.CANCELLED)),
    )
    return CustomerHistory(
        customer=customer,
        upcoming=list(listed.filter(ends_at__gt=now).order_by("starts_at", "pk")),
        past=list(listed.filter(ends_at__lte=now).order_by("-starts_at", "-pk")[:PAST_SHOWN]),
        currency=customer.organization.currency,
        total_spent=Payment.objects.filter(booking__in=bookings).aggregate(spent=SPENT)["spent"],
        **totals,
    )

"""A customer's history with the business, as the desk sees it: their bookings, what they
spent, how often they cancelled or did not come."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from accounts.models import Customer, User
from accounts.roles import permitted
from bookings.models import Booking, BookingStatus, PaymentStatus

# How many past bookings the page lists (the latest); the totals always cover every booking.
PAST_SHOWN = 100

# What the customer has spent: completed bookings that are paid, at their total price. The one
# place this figure is defined; when payment rows arrive (bookings.models.payments) it becomes
# their sum, and nothing else has to change.
SPENT = Q(status=BookingStatus.COMPLETED, payment_status=PaymentStatus.PAID)


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
        total_spent=Sum("total_price", filter=SPENT, default=Decimal("0")),
        no_shows=Count("pk", filter=Q(status=BookingStatus.NO_SHOW)),
        cancellations=Count("pk", filter=Q(status=BookingStatus.CANCELLED)),
    )
    return CustomerHistory(
        customer=customer,
        upcoming=list(listed.filter(ends_at__gt=now).order_by("starts_at", "pk")),
        past=list(listed.filter(ends_at__lte=now).order_by("-starts_at", "-pk")[:PAST_SHOWN]),
        currency=customer.organization.currency,
        **totals,
    )

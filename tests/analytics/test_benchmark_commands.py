"""The analytics benchmark: seed_benchmark gives the reports something to count and rank, and
benchmark_analytics measures them, refuses clearly, and can be run again."""

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.sessions.models import Session
from django.core.management import CommandError, call_command
from django.db.models import Count, F
from django.utils import timezone
from django_scopes import scopes_disabled
from knox.models import AuthToken

from accounts.models import Membership, Role
from analytics.management.commands import benchmark_analytics
from analytics.models import ReportView
from bookings.models import (
    Booking,
    BookingEvent,
    BookingStatus,
    Occupancy,
    Payment,
    PaymentStatus,
    ServiceKind,
)
from bookings.policy import RELEASING_STATUSES
from bookings.services import payment_status_of
from fleet.models import Car

pytestmark = pytest.mark.django_db


def test_seed_benchmark_pays_prices_and_dates_the_bookings_as_a_business_would():
    call_command("seed_benchmark", "--bookings", "5000", stdout=StringIO())
    now = timezone.now()

    with scopes_disabled():
        bookings = Booking.objects.all()
        assert bookings.count() == 5000
        completed = bookings.filter(status=BookingStatus.COMPLETED)
        payments = dict(completed.values_list("payment_status").annotate(Count("pk")))
        assert payments[PaymentStatus.PAID] > 0.9 * completed.count()
        assert payments[PaymentStatus.REFUNDED] and payments[PaymentStatus.UNPAID]
        ahead = bookings.filter(starts_at__gt=now).exclude(status=BookingStatus.CANCELLED)
        assert set(ahead.values_list("payment_status", flat=True)) == {
            PaymentStatus.UNPAID,
            PaymentStatus.DEPOSIT_PAID,
        }
        # Made before they start, never in the future, over many days; the timeline agrees.
        assert not bookings.filter(created_at__gt=F("starts_at")).exists()
        assert not bookings.filter(created_at__gt=now).exists()
        assert bookings.dates("created_at", "day").count() > 14
        assert not BookingEvent.objects.exclude(created_at=F("booking__created_at")).exists()
        # Washes at their service's price; multi-day rentals of cars at their daily rate.
        washes = bookings.filter(service__kind=ServiceKind.APPOINTMENT)
        assert set(washes.values_list("service__name", "total_price").distinct()) == {
            ("Wash", 30),
            ("Premium wash", 55),
            ("Interior", 45),
        }
        rentals = bookings.filter(service__kind=ServiceKind.RENTAL).select_related("resource__car")
        assert Car.objects.count() == 6 and rentals
        for rental in rentals:
            days = (rental.ends_at - rental.starts_at) / timedelta(days=1)
            assert days >= 1
            assert rental.total_price == rental.resource.car.daily_rate * round(days)
        # What the engine guarantees: an occupancy for each active booking (none overlap, or the
        # exclusion constraint would have refused them).
        active = bookings.exclude(status__in=RELEASING_STATUSES)
        assert Occupancy.objects.count() == active.count()
        assert not active.filter(occupancy__isnull=True).exists()
        # The payment rows are what each payment status says (revenue is their sum), and none
        # was taken after now or before its booking was made.
        assert Payment.objects.exists()
        for booking in bookings.order_by("pk")[::50]:
            assert booking.payment_status == payment_status_of(booking), booking.code
        assert not Payment.objects.filter(created_at__gt=now).exists()
        assert not Payment.objects.filter(created_at__lt=F("booking__created_at")).exists()


def test_benchmark_analytics_refuses_without_the_benchmark_organization():
    with pytest.raises(CommandError, match=re.escape("run `manage.py seed_benchmark")):
        call_command("benchmark_analytics", stdout=StringIO())


def test_benchmark_analytics_times_every_view_and_page_and_can_run_again():
    call_command("seed_benchmark", "--bookings", "1000", stdout=StringIO())

    for _ in range(2):
        output = StringIO()
        call_command("benchmark_analytics", "--repeat", "1", "--requests", "2", stdout=output)

    text = output.getvalue()
    assert "'benchmark' has 1,000 bookings" in text
    for view in ReportView:
        assert re.search(rf"^\| {view.value} +\| +[1-9][\d,]* \|.* ms \|$", text, re.MULTILINE)
    assert len(re.findall(r"\| +200 \| +\d+ \| .* ms \| .* ms \|$", text, re.MULTILINE)) == 2
    # Each update recomputed some days: a late outcome touches the day its booking was on.
    for spread in ("last 2 days", "last 30 days", "whole history"):
        assert re.search(rf"^\| [\d,]+, {spread} +\| +[1-9][\d,]* \|.* ms \|$", text, re.MULTILINE)
    # The owner is made once; the runs leave no session or token behind.
    with scopes_disabled():
        owner = Membership.objects.get(user__email=benchmark_analytics.OWNER_EMAIL)
    assert owner.role == Role.OWNER
    assert not AuthToken.objects.exists()
    assert not Session.objects.exists()


def test_benchmark_analytics_says_which_page_is_missing_after_timing_the_refreshes(monkeypatch):
    call_command("seed_benchmark", "--bookings", "100", stdout=StringIO())
    monkeypatch.setattr(
        benchmark_analytics,
        "PAGES",
        [("nowhere", "admin:analytics_nowhere", {}, "", "session")],
    )
    output = StringIO()

    with pytest.raises(CommandError, match="admin:analytics_nowhere do not resolve"):
        call_command("benchmark_analytics", "--repeat", "1", stdout=output)

    assert "analytics_location_day" in output.getvalue()

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db.models import Q
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts.models import Customer, Location, Membership, Organization, Role, User
from bookings.models import (
    Booking,
    BookingEvent,
    BookingSource,
    BookingStatus,
    Occupancy,
    OpeningHours,
    Payment,
    PaymentKind,
    PaymentMethod,
    Service,
)
from bookings.policy import RELEASING_STATUSES
from bookings.services import payment_status_of
from fleet.models import Car, Resource


def counts() -> dict[str, int]:
    with scopes_disabled():
        return {
            model.__name__: model.objects.count()
            for model in (
                Organization,
                Location,
                Membership,
                Customer,
                User,
                Resource,
                Car,
                Service,
                OpeningHours,
                Booking,
                Occupancy,
                BookingEvent,
                Payment,
            )
        }


@pytest.mark.django_db
def test_seed_demo_creates_three_kinds_of_business_and_is_idempotent():
    output = StringIO()
    call_command("seed_demo", "--allow-without-debug", stdout=output)
    first = counts()
    call_command("seed_demo", "--allow-without-debug", stdout=StringIO())

    assert counts() == first
    assert first["Organization"] == 3
    with scopes_disabled():
        locations = {o.slug: o.locations.count() for o in Organization.objects.all()}
        assert sorted(locations.values()) == [1, 2, 2]
        for organization in Organization.objects.all():
            roles = set(organization.memberships.values_list("role", flat=True))
            assert roles == set(Role.values)
            assert organization.customers.filter(user__isnull=False).exists()
        for organization in Organization.objects.all():
            # every business can be booked: services on resources, hours, a few bookings
            assert organization.services.filter(resources__isnull=False).exists()
            assert organization.bookings.exists()
            # six weeks of history for the dashboard
            assert organization.bookings.filter(starts_at__lt=timezone.now()).count() >= 20
        kept = Booking.objects.exclude(status__in=RELEASING_STATUSES).count()
    assert first["Car"] == 4
    assert first["Occupancy"] == kept  # one per booking that holds its time
    assert User.objects.filter(is_superuser=True).count() == 1
    assert "demo-pass-2026" in output.getvalue()


@pytest.mark.django_db
def test_seed_demo_refuses_to_publish_logins_when_debug_is_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG is off"):
        call_command("seed_demo", stdout=StringIO())
    assert counts()["User"] == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "now",
    [
        datetime(2029, 12, 5, 10, 30, tzinfo=UTC),  # a Wednesday, midday everywhere
        datetime(2029, 12, 8, 22, 50, tzinfo=UTC),  # Sunday 00:50 in Helsinki, shops closed
    ],
)
def test_seed_demo_books_today_and_two_weeks_ahead_in_every_status_some_paid(now):
    with time_machine.travel(now, tick=False):
        call_command("seed_demo", "--allow-without-debug", stdout=StringIO())
        first = counts()
        call_command("seed_demo", "--allow-without-debug", stdout=StringIO())
        assert counts() == first  # still idempotent on the same day

    with scopes_disabled():
        for organization in Organization.objects.all():
            # today's and the days ahead (the history's were booked by customers)
            upcoming = organization.bookings.filter(source=BookingSource.STAFF)
            assert upcoming.filter(ends_at__lt=now - timedelta(days=1)).count() == 0
            assert set(upcoming.values_list("status", flat=True)) == set(BookingStatus.values), (
                organization.slug
            )
            two_weeks = (now, now + timedelta(days=14))
            assert upcoming.filter(starts_at__range=two_weeks).count() > 5
            payments = Payment.objects.filter(booking__in=upcoming)
            assert payments.filter(is_deposit=True).exists(), organization.slug
            assert payments.filter(kind=PaymentKind.REFUND).exists(), organization.slug
            assert payments.filter(kind=PaymentKind.PAYMENT, is_deposit=False).exists()
        recent = Payment.objects.filter(booking__source=BookingSource.STAFF)
        methods = recent.values_list("method", flat=True)
        assert {PaymentMethod.CASH, PaymentMethod.CARD} <= set(methods)
        # every booking's payment status is what its payment rows make it
        for booking in Booking.objects.filter(Q(payments__isnull=False) | Q(ends_at__gte=now)):
            assert booking.payment_status == payment_status_of(booking), booking.code


@pytest.mark.django_db
def test_seeded_timelines_read_back_through_their_encrypted_field():
    """The seed writes timeline rows in raw SQL: each must hold what the field decrypts."""
    call_command("seed_demo", "--allow-without-debug", stdout=StringIO())
    with scopes_disabled():
        events = list(BookingEvent.objects.filter(kind="created")[:50])
    assert events and all(event.changes == {} for event in events)

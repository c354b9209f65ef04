"""BookingFactory writes rows the engine would accept: one organization, its occupancy, its car."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from bookings.models import Booking, BookingStatus, Occupancy, PaymentStatus, ServiceKind
from fleet.models import Car
from tests.factories import BookingFactory, ServiceFactory
from tests.scenarios import EIGHT, NOW

pytestmark = pytest.mark.django_db


def test_everything_a_booking_points_at_is_of_its_organization():
    booking = BookingFactory()

    organization = booking.organization
    assert booking.location.organization == organization
    assert booking.resource.organization == organization
    assert booking.resource.location == booking.location
    assert booking.service.organization == organization
    assert booking.customer.organization == organization
    assert booking.ends_at - booking.starts_at == timedelta(minutes=60)
    assert booking.currency == organization.currency


def test_a_past_booking_took_place_and_was_paid(fixed_now):
    booking = BookingFactory(past=True)

    assert booking.ends_at < NOW
    assert (booking.status, booking.payment_status) == (
        BookingStatus.COMPLETED,
        PaymentStatus.PAID,
    )


def test_a_booking_made_earlier_carries_that_time():
    made = timezone.now() - timedelta(days=30)

    booking = BookingFactory(past=True, created_at=made)

    with scopes_disabled():
        assert Booking.objects.get(pk=booking.pk).created_at == made


def test_with_occupancy_takes_the_resource_for_the_booking_and_its_buffers():
    service = ServiceFactory(buffer_before_minutes=10, buffer_after_minutes=15)

    booking = BookingFactory(
        with_occupancy=True, service=service, resource__location__organization=service.organization
    )

    with scopes_disabled():
        occupancy = Occupancy.objects.select_related("resource").get(booking=booking)
    assert occupancy.resource == booking.resource
    assert occupancy.organization == booking.organization
    assert occupancy.starts_at == booking.starts_at - timedelta(minutes=10)
    assert occupancy.ends_at == booking.ends_at + timedelta(minutes=15)


def test_without_occupancy_no_time_is_taken():
    booking = BookingFactory()

    with scopes_disabled():
        assert not Occupancy.objects.filter(booking=booking).exists()


def test_a_rental_takes_a_car_for_days():
    booking = BookingFactory(rental=True, starts_at=EIGHT, days=3)

    assert booking.service.kind == ServiceKind.RENTAL
    assert booking.service.organization == booking.organization
    assert booking.resource.kind == "car"
    with scopes_disabled():
        assert Car.objects.get(resource=booking.resource).organization == booking.organization
    assert booking.ends_at == EIGHT + timedelta(days=3)

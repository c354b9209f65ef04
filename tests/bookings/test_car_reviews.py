"""Car reviews: only after a completed rental, once per booking, counted once approved."""

from datetime import UTC, datetime, time
from decimal import Decimal

import pytest
from django_scopes import scope

from bookings.errors import ReviewNotAllowed
from bookings.models import Booking, BookingSource, BookingStatus, ServiceKind
from bookings.services import booking_create, car_review_create, car_review_moderate
from tests.factories import (
    CarFactory,
    CustomerFactory,
    LocationFactory,
    OrganizationFactory,
    ServiceFactory,
    UserFactory,
    open_every_day,
)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def rentals(db):
    organization = OrganizationFactory(time_zone="Europe/Helsinki")
    location = LocationFactory(organization=organization, time_zone="Europe/Helsinki")
    open_every_day(location, opens_at=time(8), closes_at=time(20))
    car = CarFactory(resource__location=location)
    service = ServiceFactory(
        organization=organization,
        kind=ServiceKind.RENTAL,
        duration_minutes=0,
        resources=[car.resource],
    )

    def completed_rental(day: int) -> Booking:
        booking = booking_create(
            actor=None,
            source=BookingSource.CUSTOMER,
            service=service,
            location=location,
            customer=CustomerFactory(organization=organization),
            starts_at=utc(2030, 1, day, 8),
            ends_at=utc(2030, 1, day, 12),
            resource=car.resource,
        )
        Booking.objects.filter(pk=booking.pk).update(status=BookingStatus.COMPLETED)
        booking.refresh_from_db()
        return booking

    with scope(organization=organization):
        yield car, completed_rental


def test_the_rating_counts_approved_reviews_only(rentals):
    car, completed_rental = rentals
    moderator = UserFactory()
    five = car_review_create(booking=completed_rental(8), rating=5)
    two = car_review_create(booking=completed_rental(9), rating=2)
    spam = car_review_create(booking=completed_rental(10), rating=1)
    car.refresh_from_db()
    assert (car.average_rating, car.review_count) == (None, 0)  # nothing approved yet

    car_review_moderate(actor=moderator, review=five, approve=True)
    car_review_moderate(actor=moderator, review=two, approve=True)
    car_review_moderate(actor=moderator, review=spam, approve=False)
    car.refresh_from_db()
    assert (car.average_rating, car.review_count) == (Decimal("3.50"), 2)

    car_review_moderate(actor=moderator, review=two, approve=False)  # changed their mind
    car.refresh_from_db()
    assert (car.average_rating, car.review_count) == (Decimal("5.00"), 1)


def test_one_review_per_booking_and_only_after_completion(rentals):
    _car, completed_rental = rentals
    booking = completed_rental(8)
    car_review_create(booking=booking, rating=4)
    with pytest.raises(ReviewNotAllowed, match="already"):
        car_review_create(booking=booking, rating=5)
    other = completed_rental(9)
    Booking.objects.filter(pk=other.pk).update(status=BookingStatus.CONFIRMED)
    other.refresh_from_db()
    with pytest.raises(ReviewNotAllowed, match="completed"):
        car_review_create(booking=other, rating=5)


@pytest.mark.parametrize("rating", [0, 6])
def test_a_rating_outside_one_to_five_is_refused(rentals, rating):
    _car, completed_rental = rentals
    with pytest.raises(ReviewNotAllowed, match="1 to 5"):
        car_review_create(booking=completed_rental(8), rating=rating)

"""Renting a car on the pages: search by dates and features, the car's page, a multi-day booking."""

from datetime import UTC, timedelta
from decimal import Decimal

import pytest
from django_scopes import scopes_disabled

from bookings.manage_links import manage_token
from bookings.models import Booking, CarReview, ReviewStatus
from tests.scenarios import MONDAY_10

PERIOD = {
    "pickup_date": "2030-01-07",
    "pickup_time": "10:00",
    "return_date": "2030-01-09",
    "return_time": "10:00",
}


def _search(shop, client, **query):
    return client.get(shop.url("car-search"), {"location": shop.location.pk, **PERIOD, **query})


def _rent(shop, car, starts_at=MONDAY_10, days=2):
    return shop.rent(car, starts_at, days)


def test_the_search_lists_free_cars_with_their_price_for_the_dates(shop, client):
    _rent(shop, shop.other_car)
    body = _search(shop, client).content.decode()
    assert "1 car free" in body
    assert "Volvo V60" in body and "Skoda Octavia" not in body
    assert "160.00 EUR</strong> for 2 days" in body  # 2 days at 80.00


def test_the_search_filters_by_features_and_transmission(shop, client):
    body = _search(shop, client, features=["tow_bar"]).content.decode()
    assert "Skoda Octavia" in body and "Volvo V60" not in body
    body = _search(shop, client, transmission="manual").content.decode()
    assert "No car is free" in body


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"pickup_date": "2030-13-01"}, "pickup_date", "Enter a valid date."),
        ({"pickup_time": "25:00"}, "pickup_time", "Enter a valid time."),
        ({"return_date": "2030-01-06"}, "return_date", "The return must be after the pick-up."),
        ({"pickup_date": "2029-12-01"}, "pickup_date", "The pick-up is in the past."),
        ({"location": "999999"}, "location", "Select a valid choice."),
        ({"features": ["jetpack"]}, "features", "Select a valid choice."),
        ({"seats_min": "0"}, "seats_min", "greater than or equal to 1"),
        # 30 March 2030, 03:30 does not exist in Helsinki: the clocks jump from 03:00 to 04:00.
        (
            {"pickup_date": "2030-03-31", "pickup_time": "03:30", "return_date": "2030-04-01"},
            "pickup_time",
            "03:30 does not exist on 31 March 2030",
        ),
    ],
)
def test_a_bad_search_names_the_field(shop, client, change, field, message):
    response = _search(shop, client, **change)
    assert response.status_code == 400
    body = response.content.decode()
    error_list = f'id="id_{field}_error"'
    assert error_list in body
    assert message in body[body.index(error_list) :]


def test_the_car_page_shows_reviews_free_periods_and_the_price(shop, client):
    booking = _rent(shop, shop.car, starts_at=MONDAY_10 - timedelta(days=20))
    with scopes_disabled():
        CarReview.objects.create(
            organization=shop.organization,
            booking=booking,
            car=shop.car,
            customer=booking.customer,
            rating=5,
            comment="Spotless and quiet.",
            status=ReviewStatus.APPROVED,
        )
    url = shop.url("car", shop.car.pk)
    body = client.get(url).content.decode()
    assert "Spotless and quiet." in body and "GPS navigation" in body
    body = client.get(url, PERIOD).content.decode()
    assert "Free for these dates" in body and "160.00 EUR" in body
    assert "Continue to book" in body


def test_the_car_page_says_when_the_car_is_taken(shop, client):
    _rent(shop, shop.car)
    body = client.get(shop.url("car", shop.car.pk), PERIOD).content.decode()
    assert "not free for these dates" in body and "Continue to book" not in body


def test_a_two_day_rental_is_booked_end_to_end(shop, client):
    starts_at, ends_at = MONDAY_10, MONDAY_10 + timedelta(days=2)
    url = shop.url("book", shop.rental.pk, shop.location.slug)
    choice = {
        "starts_at": starts_at.isoformat(),
        "ends_at": ends_at.isoformat(),
        "car": shop.car.pk,
    }
    details = {"full_name": "Renter", "email": "renter@example.com", "phone": ""}
    page = client.get(url, choice).content.decode()
    assert "vehicle_type" not in page  # a rental does not ask for a vehicle type
    review = client.post(url, {**choice, **details, "step": "review"}).content.decode()
    assert "160.00 EUR" in review and "2 days \u00d7 80.00" in review
    response = client.post(url, {**choice, **details, "step": "confirm"})
    assert response.status_code == 302
    with scopes_disabled():
        booking = Booking.objects.get()
        assert booking.resource == shop.car.resource
        assert (booking.starts_at, booking.ends_at) == (
            starts_at.astimezone(UTC),
            ends_at.astimezone(UTC),
        )
        assert booking.total_price == Decimal("160.00")


def test_a_car_taken_meanwhile_offers_the_other_free_cars(shop, client):
    url = shop.url("book", shop.rental.pk, shop.location.slug)
    choice = {
        "starts_at": MONDAY_10.isoformat(),
        "ends_at": (MONDAY_10 + timedelta(days=2)).isoformat(),
        "car": shop.car.pk,
    }
    _rent(shop, shop.car)
    response = client.post(
        url, {**choice, "full_name": "Late", "email": "late@example.com", "step": "confirm"}
    )
    assert response.status_code == 409
    body = response.content.decode()
    assert "Other cars free for these dates" in body and "Skoda Octavia" in body
    with scopes_disabled():
        assert Booking.objects.count() == 1


@pytest.mark.parametrize(
    "choice",
    [
        {"starts_at": "2030-01-07T10:00:00+02:00"},  # no return, no car
        {
            "starts_at": "2030-01-07T10:00:00+02:00",
            "ends_at": "2030-01-07T09:00:00+02:00",
            "car": 1,
        },
    ],
)
def test_a_bad_rental_choice_is_a_400(shop, client, choice):
    url = shop.url("book", shop.rental.pk, shop.location.slug)
    assert client.get(url, choice).status_code == 400


def test_a_rental_is_rescheduled_to_other_dates(shop, client):
    booking = _rent(shop, shop.car)
    url = shop.url("booking-reschedule", manage_token(booking))
    assert 'value="2030-01-07"' in client.get(url).content.decode()
    response = client.post(
        url,
        {
            "pickup_date": "2030-01-10",
            "pickup_time": "09:00",
            "return_date": "2030-01-13",
            "return_time": "09:00",
            "version": booking.version,
            "step": "confirm",
            "price_seen": "240.00",
        },
    )
    assert response.status_code == 302
    with scopes_disabled():
        booking.refresh_from_db()
    assert booking.total_price == Decimal("240.00")  # 3 days


def test_a_return_beyond_the_booking_window_is_refused(shop, client):
    url = shop.url("book", shop.rental.pk, shop.location.slug)
    starts_at = MONDAY_10
    ends_at = starts_at + timedelta(days=shop.rental.maximum_advance_days)
    choice = {
        "starts_at": starts_at.isoformat(),
        "ends_at": ends_at.isoformat(),
        "car": shop.car.pk,
    }
    response = client.post(
        url, {**choice, "full_name": "Long", "email": "long@example.com", "step": "confirm"}
    )
    assert response.status_code == 422  # too_far_ahead: a rule, not someone else's booking
    assert "too far ahead" in response.content.decode()
    with scopes_disabled():
        assert not Booking.objects.exists()

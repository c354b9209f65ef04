"""Booking an appointment on the pages: date picker, slots, details, review, confirmation."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django_scopes import scopes_disabled

from accounts.models import Customer
from bookings.models import Booking, BookingSource, OutboxEmail
from tests.factories import ResourceFactory
from tests.scenarios import MONDAY_10

DETAILS = {
    "full_name": "Aino Virtanen",
    "email": "Aino@Example.com",
    "phone": "+358401234567",
    "vehicle_type": "suv",
    "notes": "Roof box on top.",
}


def _book_url(shop, starts_at=MONDAY_10):
    return shop.url("book", shop.wash.pk, shop.location.slug)


def _choice(starts_at=MONDAY_10) -> dict:
    return {"starts_at": starts_at.isoformat()}


def _counts() -> tuple[int, int, int]:
    with scopes_disabled():
        return Booking.objects.count(), Customer.objects.count(), OutboxEmail.objects.count()


def test_the_landing_page_shows_services_fleet_locations_and_brand(shop, other_shop, client):
    body = client.get(shop.url("home")).content.decode()
    assert "Wash" in body and "from 25.00 EUR" in body
    assert "Volvo V60" in body and "Find a free car" in body
    assert shop.location.name in body
    assert "--brand: #7a1f5c" in body and "--on-brand: #ffffff" in body
    assert other_shop.location.name not in body


def test_the_date_picker_links_only_days_with_free_slots(shop, client):
    # given the only bay is taken all of Monday 7 January (09-17 local)
    with scopes_disabled():
        for hour in range(9, 17):
            shop.book_wash(
                MONDAY_10.replace(hour=hour), email="blocker@example.com", full_name="Blocker"
            )
    url = shop.url("service-calendar", shop.wash.pk, shop.location.slug)
    body = client.get(url, {"month": "2030-01"}).content.decode()
    assert "January 2030" in body
    assert f"{shop.url('service-calendar', shop.wash.pk, shop.location.slug)}2030-01-08/" in body
    assert "2030-01-07/" not in body
    assert '>7<span class="visually-hidden"> January: no free times</span>' in body


def test_the_date_picker_keeps_to_the_booking_window(shop, client):
    url = shop.url("service-calendar", shop.wash.pk, shop.location.slug)
    body = client.get(url, {"month": "1999-01"}).content.decode()
    assert "December 2029" in body  # clamped to this month
    assert "2029-12-06/" not in body  # yesterday is not offered
    assert client.get(url, {"month": "garbage"}).status_code == 200


def test_a_days_slots_are_shown_in_the_locations_time_zone(shop, client):
    url = shop.url("service-day", shop.wash.pk, shop.location.slug, MONDAY_10.date())
    body = client.get(url).content.decode()
    # 09:00 Helsinki is 07:00 UTC; the page and its link say 09:00 +02:00.
    assert ">09:00<" in body and ">16:00<" in body and ">17:00<" not in body
    assert "starts_at=2030-01-07T09%3A00%3A00%2B02%3A00" in body


@pytest.mark.parametrize("day", ["2030-02-30", "0001-01-01", "9999-12-31"])
def test_an_impossible_day_is_a_404(shop, client, day):
    url = f"/{shop.organization.slug}/services/{shop.wash.pk}/centre/{day}/"
    assert client.get(url).status_code == 404


@pytest.mark.parametrize(
    ("brand", "text"), [("#0b57d0", "#ffffff"), ("#ffd400", "#000000"), ("#000000", "#ffffff")]
)
def test_text_on_the_brand_colour_is_whichever_contrasts_more(shop, client, brand, text):
    shop.organization.brand_color = brand
    shop.organization.save(update_fields=["brand_color"])
    body = client.get(shop.url("home")).content.decode()
    assert f"--brand: {brand};" in body and f"--on-brand: {text};" in body


def test_a_service_of_another_organization_is_a_404_here(shop, other_shop, client):
    assert client.get(shop.url("service", other_shop.wash.pk)).status_code == 404
    url = shop.url("book", other_shop.wash.pk, shop.location.slug)
    assert client.get(url, _choice()).status_code == 404


@pytest.mark.django_db
def test_booking_end_to_end_writes_the_booking_and_emails_once(
    shop, client, django_capture_on_commit_callbacks
):
    url = _book_url(shop)
    details_page = client.get(url, _choice())
    assert details_page.status_code == 200
    assert "Monday 7 January 2030, 10:00" in details_page.content.decode()

    review = client.post(url, {**_choice(), **DETAILS, "step": "review"})
    assert review.status_code == 200
    body = review.content.decode()
    assert "35.00 EUR" in body  # the SUV price, not the base price
    assert _counts() == (0, 0, 0)  # reviewing writes nothing

    with django_capture_on_commit_callbacks(execute=True):
        confirmed = client.post(url, {**_choice(), **DETAILS, "step": "confirm"})
    assert confirmed.status_code == 302
    with scopes_disabled():
        booking = Booking.objects.get()
        assert booking.starts_at == MONDAY_10.astimezone(UTC)
        assert booking.total_price == 35 and booking.vehicle_type == "suv"
        assert booking.source == BookingSource.CUSTOMER and booking.created_by is None
        assert booking.customer.email == "aino@example.com"
        assert booking.notes == "Roof box on top."
    page = client.get(confirmed["Location"])
    assert page.status_code == 200
    assert booking.code in page.content.decode()
    assert len(mail.outbox) == 1 and booking.code in mail.outbox[0].body


def test_change_details_brings_back_the_filled_in_form(shop, client):
    response = client.post(_book_url(shop), {**_choice(), **DETAILS, "step": "edit"})
    body = response.content.decode()
    assert response.status_code == 200
    assert 'value="Aino Virtanen"' in body and "Roof box on top." in body


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("full_name", "", "This field is required."),
        ("full_name", "   ", "This field is required."),
        ("full_name", "x" * 201, "Ensure this value has at most 200 characters"),
        ("email", "", "This field is required."),
        ("email", "not-an-email", "Enter a valid email address."),
        ("phone", "12", "Enter a valid phone number"),
        ("vehicle_type", "", "This field is required."),
        (
            "vehicle_type",
            "tank",
            "Select a valid choice. tank is not one of the available choices.",
        ),
        ("notes", "n" * 1001, "Ensure this value has at most 1000 characters"),
    ],
)
@pytest.mark.parametrize("step", ["review", "confirm"])
def test_bad_details_get_a_message_next_to_the_field_and_write_nothing(
    shop, client, field, value, message, step
):
    response = client.post(_book_url(shop), {**_choice(), **DETAILS, field: value, "step": step})
    assert response.status_code == 400
    body = response.content.decode()
    error_list = f'<ul class="errorlist" id="id_{field}_error">'
    assert error_list in body
    assert message in body[body.index(error_list) :]
    assert f'aria-describedby="id_{field}_helptext id_{field}_error"' in body or (
        f'aria-describedby="id_{field}_error"' in body
    )
    assert _counts() == (0, 0, 0)


@pytest.mark.parametrize(
    ("choice", "message"),
    [
        ({}, "This field is required."),
        ({"starts_at": "tomorrow"}, "Enter a valid date/time."),
        ({"starts_at": "9999-01-01T10:00:00+02:00"}, "out of range"),
    ],
)
def test_a_bad_choice_is_a_400_naming_the_problem(shop, client, choice, message):
    response = client.post(_book_url(shop), {**choice, **DETAILS, "step": "confirm"})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert _counts() == (0, 0, 0)


@pytest.mark.parametrize(
    ("starts_at", "message"),
    [
        (MONDAY_10.replace(hour=7), "outside opening hours"),  # before opening
        (MONDAY_10.replace(minute=30), "Bookings start every 60 minutes."),  # off the hour grid
        (datetime(2029, 12, 6, 10, tzinfo=UTC), "too soon"),  # in the past
    ],
)
def test_a_time_that_is_not_a_slot_is_refused_with_alternatives(shop, client, starts_at, message):
    response = client.post(_book_url(shop), {**_choice(starts_at), **DETAILS, "step": "confirm"})
    # 422: the rules refuse this time whoever else books; it was not taken by anyone
    assert response.status_code == 422
    body = response.content.decode()
    assert message in body
    assert "The nearest free times" in body and "just taken" not in body
    assert _counts() == (0, 0, 0)


def test_a_slot_taken_before_confirming_shows_the_nearest_free_times_and_writes_nothing(
    shop, client
):
    # given someone else books 10:00 between this customer's review and confirmation
    client.post(_book_url(shop), {**_choice(), **DETAILS, "step": "review"})
    with scopes_disabled():
        shop.book_wash(MONDAY_10, email="faster@example.com", full_name="Faster")
        before = _counts()

    response = client.post(_book_url(shop), {**_choice(), **DETAILS, "step": "confirm"})

    assert response.status_code == 409
    body = response.content.decode()
    assert "This time was just taken" in body or "not available" in body
    assert "Nothing was booked." in body
    # the nearest free times: 09:00 and 11:00 the same day come first
    nearest = body[body.index("The nearest free times") :]
    assert "Mon 7 Jan 09:00" in nearest and "Mon 7 Jan 11:00" in nearest
    assert nearest.index("Mon 7 Jan 09:00") < nearest.index("Mon 7 Jan 11:00")
    # each alternative carries the details, so one click reviews it
    assert 'name="email" value="Aino@Example.com"' in nearest
    # nothing of this customer was written: no booking, no profile, no email
    assert _counts() == before
    with scopes_disabled():
        assert not Customer.objects.filter(Customer.email_is("aino@example.com")).exists()


def test_pages_refuse_a_post_without_the_csrf_token(shop):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post(
        _book_url(shop), {**_choice(), **DETAILS, "step": "confirm"}
    )
    assert response.status_code == 403
    assert _counts() == (0, 0, 0)


def test_a_returning_guest_keeps_the_businesss_record_of_them(shop, client):
    with scopes_disabled():
        shop.book_wash(MONDAY_10 + timedelta(days=1))
    client.post(
        _book_url(shop), {**_choice(), **DETAILS, "full_name": "Someone Else", "step": "confirm"}
    )
    with scopes_disabled():
        customer = Customer.objects.get(Customer.email_is("aino@example.com"))
        assert customer.full_name == "Aino Virtanen"
        assert customer.bookings.count() == 2


def test_a_guest_typing_a_known_email_does_not_learn_the_name_on_record(
    shop, client, django_capture_on_commit_callbacks
):
    with scopes_disabled():
        shop.book_wash(MONDAY_10 + timedelta(days=1))
    response = client.post(
        _book_url(shop),
        {**_choice(), **DETAILS, "full_name": "Someone Else", "step": "confirm"},
        follow=True,
    )
    assert response.status_code == 200
    assert "Aino Virtanen" not in response.content.decode()
    calendar_url = response.redirect_chain[-1][0].replace("/bookings/", "/manage/")
    calendar = client.get(calendar_url + "booking.ics").content.decode()
    assert "BEGIN:VCALENDAR" in calendar and "Aino" not in calendar


def test_a_rental_service_has_no_slot_calendar(shop, client):
    url = shop.url("service-calendar", shop.rental.pk, shop.location.slug)
    assert client.get(url).status_code == 404


def test_a_confirmation_posted_twice_books_once(shop, client):
    # given a second bay, so the second post could have booked a second time
    with scopes_disabled():
        shop.wash.resources.add(ResourceFactory(location=shop.location, name="Bay 2"))
    review = client.post(_book_url(shop), {**_choice(), **DETAILS, "step": "review"})
    submission = re.search(r'name="submission" value="([0-9a-f]{32})"', review.content.decode())
    form = {**_choice(), **DETAILS, "submission": submission.group(1), "step": "confirm"}

    first = client.post(_book_url(shop), form)
    second = client.post(_book_url(shop), form)

    assert first.status_code == second.status_code == 302
    with scopes_disabled():
        assert Booking.objects.count() == 1
        assert OutboxEmail.objects.count() == 1
        code = Booking.objects.get().code
    assert code in client.get(second["Location"]).content.decode()

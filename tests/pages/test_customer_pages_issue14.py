"""Issue #14 on the customer pages: numbers read in the business's country, honest prices,
rentals only for periods the engine accepts, a confirm step before cancel or reschedule, choose
your barber, a calendar that opens where there is room, and links on the port `make run` uses."""

import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django_scopes import scopes_disabled

from accounts.models import Customer, Role
from bookings.manage_links import manage_token
from bookings.models import Booking, BookingStatus, OpeningHours, ServiceVehiclePrice
from tests.factories import LocationFactory, MembershipFactory, ResourceFactory, ServiceFactory
from tests.pages.test_rental_pages import PERIOD
from tests.scenarios import HELSINKI, MONDAY_10

GUEST = {"full_name": "Sven Svensson", "email": "sven@example.com", "vehicle_type": "sedan"}


def _wash_choice() -> dict:
    return {"starts_at": MONDAY_10.isoformat()}


def _book_url(shop, service=None):
    return shop.url("book", (service or shop.wash).pk, shop.location.slug)


# --- 1. Phone numbers follow the business ---------------------------------------------------------


def test_a_swedish_location_reads_numbers_as_swedish_and_shows_what_it_understood(shop, client):
    with scopes_disabled():
        shop.location.country = "SE"
        shop.location.save(update_fields=["country"])
    url = _book_url(shop)
    details = client.get(url, _wash_choice()).content.decode()
    assert "070-123 45 67" in details and "+46…" in details
    assert "Finnish" not in details

    review = client.post(
        url, {**_wash_choice(), **GUEST, "phone": "070-123 45 67", "step": "review"}
    ).content.decode()
    assert 'data-testid="phone">+46 70 123 45 67<' in review

    response = client.post(
        url, {**_wash_choice(), **GUEST, "phone": "070-123 45 67", "step": "confirm"}
    )
    assert response.status_code == 302
    with scopes_disabled():
        sven = Customer.objects.get(Customer.email_is("sven@example.com"))
        assert str(sven.phone) == "+46701234567"


def test_a_finnish_location_still_reads_finnish_numbers(shop, client):
    review = client.post(
        _book_url(shop), {**_wash_choice(), **GUEST, "phone": "040 1234567", "step": "review"}
    ).content.decode()
    assert 'data-testid="phone">+358 40 1234567<' in review


def test_a_number_not_valid_in_the_region_is_refused_not_rewritten(shop, client):
    response = client.post(
        _book_url(shop), {**_wash_choice(), **GUEST, "phone": "12", "step": "review"}
    )
    assert response.status_code == 400
    assert 'id="id_phone_error"' in response.content.decode()


# --- 2. Honest prices ---------------------------------------------------------------------------


@pytest.fixture
def express(shop):
    """A wash priced like the demo's: base 15.00 (what a sedan pays), SUV 19.00, van 24.00."""
    service = ServiceFactory(
        organization=shop.organization, name="Express", price=Decimal("15.00"), resources=[shop.bay]
    )
    with scopes_disabled():
        for vehicle_type, price in (("suv", "19.00"), ("van", "24.00")):
            ServiceVehiclePrice.objects.create(
                organization=shop.organization,
                service=service,
                vehicle_type=vehicle_type,
                price=Decimal(price),
            )
    return service


def test_from_is_the_lowest_price_a_customer_pays(shop, express, client):
    body = client.get(shop.url("home")).content.decode()
    assert "from 15.00 EUR" in body and "from 19.00" not in body
    assert "from 25.00 EUR" in body  # the shop's wash: sedan 25, SUV 35, van at base 30


def test_the_service_page_lists_every_vehicle_type_with_its_price(shop, express, client):
    body = client.get(shop.url("service", express.pk)).content.decode()
    assert re.search(r"<td>Sedan</td><td>15.00 EUR</td>", body)
    assert re.search(r"<td>SUV</td><td>19.00 EUR</td>", body)
    assert re.search(r"<td>Van</td><td>24.00 EUR</td>", body)


def test_the_vehicle_choice_shows_each_price(shop, express, client):
    body = client.get(_book_url(shop, express), _wash_choice()).content.decode()
    assert "Sedan — 15.00 EUR" in body and "SUV — 19.00 EUR" in body and "Van — 24.00 EUR" in body


def test_a_longer_rental_says_its_new_price_and_waits_for_a_confirm(shop, client):
    booking = shop.rent(shop.car, MONDAY_10, days=2)
    url = shop.url("booking-reschedule", manage_token(booking))
    longer = {**PERIOD, "return_date": "2030-01-12", "version": booking.version}
    page = client.post(url, longer)
    assert page.status_code == 200
    body = page.content.decode()
    assert 'data-testid="old-price">160.00 EUR<' in body
    assert "The price changes from 160.00 to 400.00 EUR." in body
    with scopes_disabled():
        booking.refresh_from_db()
    assert booking.ends_at == (MONDAY_10 + timedelta(days=2)).astimezone(UTC)  # nothing moved

    # A confirm with a price the customer did not see shows the confirm step again.
    again = client.post(url, {**longer, "step": "confirm", "price_seen": "160.00"})
    assert (
        again.status_code == 200 and "The price changed since you chose" in again.content.decode()
    )

    done = client.post(url, {**longer, "step": "confirm", "price_seen": "400.00"})
    assert done.status_code == 302
    with scopes_disabled():
        booking.refresh_from_db()
    assert booking.total_price == Decimal("400.00")


# --- 3. The rental search applies the rules -----------------------------------------------------


def test_the_search_offers_no_car_for_a_pick_up_before_opening(shop, client):
    response = client.get(
        shop.url("car-search"), {"location": shop.location.pk, **PERIOD, "pickup_time": "07:00"}
    )
    body = response.content.decode()
    assert "0 cars free" in body and "Volvo V60" not in body
    assert "Pick-up and return must be within opening hours." in body
    assert "09:00\u201317:00" in body


def test_the_search_offers_no_car_inside_the_minimum_notice(shop, client):
    with scopes_disabled():
        shop.rental.minimum_notice_minutes = 60 * 24 * 60  # 60 days
        shop.rental.save(update_fields=["minimum_notice_minutes"])
    body = client.get(shop.url("car-search"), {"location": shop.location.pk, **PERIOD})
    body = body.content.decode()
    assert "Volvo V60" not in body and "too soon to book" in body


def test_the_car_page_shows_opening_hours_and_refuses_a_return_after_closing(shop, client):
    body = client.get(
        shop.url("car", shop.car.pk), {**PERIOD, "return_time": "20:00"}
    ).content.decode()
    assert "Opening hours" in body and "Monday</th><td>09:00\u201317:00" in body
    assert "Pick-up and return must be within opening hours." in body
    assert "Continue to book" not in body


def test_the_booking_step_refuses_with_the_same_rule_and_code(shop, client):
    choice = {
        "starts_at": datetime.combine(date(2030, 1, 7), time(7), tzinfo=HELSINKI).isoformat(),
        "ends_at": datetime.combine(date(2030, 1, 9), time(10), tzinfo=HELSINKI).isoformat(),
        "car": shop.car.pk,
    }
    response = client.post(
        _book_url(shop, shop.rental), {**choice, **GUEST, "vehicle_type": "", "step": "confirm"}
    )
    assert response.status_code == 422  # a rule of time refused it, nobody holds it
    body = response.content.decode()
    assert "within opening hours" in body and "just taken" not in body


# --- 4. Confirm before cancel or reschedule; "just taken" only when it was ---------------------


@pytest.fixture
def booking(shop):
    return shop.book_wash(MONDAY_10)


def test_cancelling_asks_to_confirm_first(shop, booking, client):
    url = shop.url("booking-manage", manage_token(booking))
    form = {"reason": "Other", "details": "", "version": booking.version}
    confirm = client.post(url, form)
    assert confirm.status_code == 200
    body = confirm.content.decode()
    assert "Cancel booking" in body and "Yes, cancel the booking" in body and "No, keep it" in body
    with scopes_disabled():
        assert Booking.objects.get(pk=booking.pk).status == BookingStatus.PENDING
    response = client.post(url, {**form, "step": "confirm"})
    assert response.status_code == 302
    with scopes_disabled():
        assert Booking.objects.get(pk=booking.pk).status == BookingStatus.CANCELLED


def test_rescheduling_asks_to_confirm_first(shop, booking, client):
    url = shop.url("booking-reschedule", manage_token(booking))
    new_start = MONDAY_10 + timedelta(days=1)
    response = client.post(url, {"starts_at": new_start.isoformat(), "version": booking.version})
    body = response.content.decode()
    assert response.status_code == 200 and "Yes, move my booking" in body
    assert "The price stays" in body
    with scopes_disabled():
        assert Booking.objects.get(pk=booking.pk).starts_at == MONDAY_10.astimezone(UTC)


def test_a_time_really_taken_is_called_just_taken(shop, client):
    shop.book_wash(MONDAY_10, email="first@example.com")
    response = client.post(_book_url(shop), {**_wash_choice(), **GUEST, "step": "confirm"})
    assert response.status_code == 409
    assert "Sorry, this was just taken" in response.content.decode()


def test_a_time_too_far_ahead_says_so_and_not_just_taken(shop, client):
    with scopes_disabled():
        shop.wash.maximum_advance_days = 10
        shop.wash.save(update_fields=["maximum_advance_days"])
    response = client.post(_book_url(shop), {**_wash_choice(), **GUEST, "step": "confirm"})
    assert response.status_code == 422  # a rule of time refused it, nobody holds it
    body = response.content.decode()
    assert "too far ahead" in body and "just taken" not in body
    assert "Sorry, this time cannot be booked" in body


# --- 5. Choose your barber -----------------------------------------------------------------------


@pytest.fixture
def barbers(shop):
    """A haircut done by two people at the shop's location."""
    anna, ben = (
        ResourceFactory(
            location=shop.location,
            kind="staff",
            name=name,
            membership=MembershipFactory(organization=shop.organization, role=Role.STAFF),
        )
        for name in ("Anna", "Ben")
    )
    haircut = ServiceFactory(organization=shop.organization, name="Haircut", resources=[anna, ben])
    return haircut, anna, ben


def test_the_calendar_offers_a_choice_of_person(shop, barbers, client):
    haircut, anna, _ = barbers
    url = shop.url("service-calendar", haircut.pk, shop.location.slug)
    body = client.get(url, {"month": "2030-01"}).content.decode()
    assert "Who would you like?" in body and ">Anyone<" in body
    assert f'href="?resource={anna.pk}"' in body and ">Ben<" in body
    chosen = client.get(url, {"month": "2030-01", "resource": anna.pk}).content.decode()
    assert f"2030-01-08/?resource={anna.pk}" in chosen
    assert client.get(url, {"resource": shop.bay.pk}).status_code == 404


def test_the_wash_offers_no_choice_of_person(shop, client):
    url = shop.url("service-calendar", shop.wash.pk, shop.location.slug)
    assert "Who would you like?" not in client.get(url).content.decode()


def test_a_persons_day_shows_only_their_free_times_and_books_them(
    shop, barbers, client, django_capture_on_commit_callbacks
):
    haircut, anna, ben = barbers
    shop._book(service=haircut, starts_at=MONDAY_10, resource=anna, email="x@example.com")
    day_url = shop.url("service-day", haircut.pk, shop.location.slug, MONDAY_10.date())
    annas = client.get(day_url, {"resource": anna.pk}).content.decode()
    bens = client.get(day_url, {"resource": ben.pk}).content.decode()
    assert ">10:00<" not in annas and ">11:00<" in annas
    assert ">10:00<" in bens and f"resource={ben.pk}" in bens

    url = _book_url(shop, haircut)
    choice = {"starts_at": MONDAY_10.isoformat(), "resource": ben.pk}
    review = client.post(url, {**choice, **GUEST, "step": "review"}).content.decode()
    assert 'data-testid="person">Ben<' in review
    assert f'name="resource" value="{ben.pk}"' in review
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {**choice, **GUEST, "step": "confirm"}, follow=True)
    assert 'data-testid="person">Ben<' in response.content.decode()  # the confirmation page
    with scopes_disabled():
        booking = Booking.objects.select_related("resource").get(
            Customer.email_is("sven@example.com", path="customer__")
        )
    assert booking.resource == ben
    assert "With: Ben" in mail.outbox[-1].body
    assert (
        "<th" in mail.outbox[-1].alternatives[0][0]
        and ">Ben<" in mail.outbox[-1].alternatives[0][0]
    )


def test_the_api_lists_who_serves_a_service(shop, barbers, client):
    haircut, anna, ben = barbers
    response = client.get(f"/api/v1/organizations/{shop.organization.slug}/services/{haircut.pk}/")
    assert response.status_code == 200
    names = {(r["id"], r["name"]) for r in response.json()["resources"]}
    assert names == {(anna.pk, "Anna"), (ben.pk, "Ben")}


def test_a_location_where_nothing_can_be_booked_is_not_offered(shop, client):
    LocationFactory(organization=shop.organization, name="Empty depot", slug="empty")
    body = client.get(shop.url("home")).content.decode()
    assert shop.location.name in body and "Empty depot" not in body


# --- 6. The month calendar and the days -------------------------------------------------------


def test_the_calendar_opens_on_the_first_month_with_a_free_day(shop, client):
    with scopes_disabled():
        shop.wash.minimum_notice_minutes = 60 * 24 * 40  # nothing free before mid-January
        shop.wash.save(update_fields=["minimum_notice_minutes"])
    url = shop.url("service-calendar", shop.wash.pk, shop.location.slug)
    body = client.get(url).content.decode()
    assert "January 2030" in body and "2030-01-20/" in body


def test_past_days_look_different_from_full_days(shop, client):
    url = shop.url("service-calendar", shop.wash.pk, shop.location.slug)
    body = client.get(url, {"month": "2029-12"}).content.decode()
    assert '<span class="past">6<span class="visually-hidden"> December: past</span>' in body
    assert "2029-12-08/" in body


def test_the_two_three_oclocks_of_a_fall_back_night_are_told_apart(shop, client):
    # Helsinki's clocks go back from 04:00 to 03:00 on Sunday 27 October 2030.
    night = date(2030, 10, 27)
    with scopes_disabled():
        OpeningHours.objects.filter(location=shop.location, weekday=night.weekday()).update(
            opens_at=time(0), closes_at=time(6)
        )
    body = client.get(
        shop.url("service-day", shop.wash.pk, shop.location.slug, night)
    ).content.decode()
    assert ">03:00 (UTC+03:00)<" in body and ">03:00 (UTC+02:00)<" in body
    assert ">02:00<" in body and ">04:00<" in body  # times that occur once carry no offset


# --- 7. make run on another port; the README on its own ----------------------------------------


def test_site_url_follows_the_port_unless_set():
    env = {k: v for k, v in os.environ.items() if k != "SITE_URL"}
    env.update(PORT="8123", DJANGO_SETTINGS_MODULE="config.settings.local")
    code = (
        "import django; django.setup(); from django.conf import settings; print(settings.SITE_URL)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "http://127.0.0.1:8123"
    env["SITE_URL"] = "https://book.example.com"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "https://book.example.com"


def test_the_readme_refers_only_to_files_in_the_repository():
    root = Path(settings.BASE_DIR)
    readme = (root / "README.md").read_text()
    assert "/work/" not in readme and "STYLE.md" not in readme
    for target in re.findall(r"\]\(([^)#]+)\)", readme):
        if not target.startswith(("http://", "https://", "mailto:")):
            assert (root / target).exists(), target

"""Issue #14's journeys on a phone (390x844): prices said before they change, a confirm step
before cancelling or moving, and choosing who does the work. Screenshots are kept."""

import re
from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled
from playwright.sync_api import Page, expect

from accounts.models import Role
from bookings.manage_links import manage_token
from bookings.models import Booking, BookingStatus
from tests.factories import MembershipFactory, ResourceFactory, ServiceFactory
from tests.scenarios import HELSINKI, Shop

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def shop(live_server, settings) -> Shop:
    settings.SITE_URL = live_server.url
    return Shop()


@pytest.fixture
def phone(browser, live_server) -> Page:
    context = browser.new_context(base_url=live_server.url, viewport=PHONE)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def _a_week_ahead_at(hour: int):
    day = timezone.localdate(timezone=HELSINKI) + timedelta(days=7)
    return datetime.combine(day, time(hour), tzinfo=HELSINKI)


def test_prices_per_vehicle_and_a_longer_rental_asks_first(phone: Page, shop: Shop, screenshot):
    phone.goto(shop.url("home"))
    expect(phone.get_by_text("from 25.00 EUR")).to_be_visible()
    phone.get_by_role("link", name="Choose a time for Wash").click()
    expect(phone.get_by_role("cell", name="Sedan")).to_be_visible()
    print(screenshot("service-prices", page=phone))

    starts_at = _a_week_ahead_at(10)
    booking = shop.rent(shop.car, starts_at, days=2)
    phone.goto(shop.url("booking-reschedule", manage_token(booking)))
    phone.get_by_label("Return date").fill((starts_at + timedelta(days=4)).date().isoformat())
    phone.get_by_role("button", name="Move my booking").click()
    expect(phone.get_by_test_id("price-change")).to_contain_text("The price changes from")
    print(screenshot("rental-price-change", page=phone))
    with scopes_disabled():
        assert Booking.objects.get(pk=booking.pk).ends_at == booking.ends_at
    phone.get_by_role("button", name="Yes, move my booking").click()
    expect(phone.get_by_role("status")).to_have_text(
        "Your booking has moved. We have sent you an email."
    )
    with scopes_disabled():
        assert Booking.objects.get(pk=booking.pk).ends_at == starts_at + timedelta(days=4)


def test_cancelling_asks_first_and_can_be_called_off(phone: Page, shop: Shop, screenshot):
    booking = shop.book_wash(_a_week_ahead_at(10))
    phone.goto(shop.url("booking-manage", manage_token(booking)))
    phone.get_by_label("Why are you cancelling?").select_option("Change of plans")
    phone.get_by_role("button", name="Cancel booking").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text(f"Cancel booking {booking.code}?")
    print(screenshot("cancel-confirm", page=phone))
    phone.get_by_role("link", name="No, keep it").click()
    expect(phone.get_by_test_id("status")).to_have_text("Pending")

    phone.get_by_role("button", name="Cancel booking").click()
    phone.get_by_role("button", name="Yes, cancel the booking").click()
    expect(phone.get_by_test_id("status")).to_have_text("Cancelled")
    with scopes_disabled():
        assert Booking.objects.get(pk=booking.pk).status == BookingStatus.CANCELLED


def test_choose_your_barber(phone: Page, shop: Shop, screenshot):
    people = [
        ResourceFactory(
            location=shop.location,
            kind="staff",
            name=name,
            membership=MembershipFactory(organization=shop.organization, role=Role.STAFF),
        )
        for name in ("Anna", "Ben")
    ]
    haircut = ServiceFactory(organization=shop.organization, name="Haircut", resources=people)
    day = _a_week_ahead_at(10).date()

    phone.goto(shop.url("service-calendar", haircut.pk, shop.location.slug))
    expect(phone.get_by_role("heading", name="Who would you like?")).to_be_visible()
    phone.get_by_role("link", name="Ben", exact=True).click()
    if phone.get_by_role("heading", name=day.strftime("%B %Y")).count() == 0:
        phone.get_by_role("link", name=re.compile(f"{day:%B}")).click()
    print(screenshot("choose-person", page=phone))
    phone.get_by_role("link", name=f"{day:%A} {day.day} {day:%B}: free times").click()
    expect(phone.get_by_text("with Ben")).to_be_visible()
    phone.get_by_role("link", name="10:00", exact=True).click()
    phone.get_by_label("Full name").fill("Aino Virtanen")
    phone.get_by_label("Email").fill("aino@example.com")
    phone.get_by_label("Phone").fill("040 1234567")
    phone.get_by_role("button", name="Review booking").click()
    expect(phone.get_by_test_id("person")).to_have_text("Ben")
    expect(phone.get_by_test_id("phone")).to_have_text("+358 40 1234567")
    phone.get_by_role("button", name="Confirm booking").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("You are booked")
    expect(phone.get_by_test_id("person")).to_have_text("Ben")
    print(screenshot("booked-with-ben", page=phone))
    with scopes_disabled():
        assert Booking.objects.get(service=haircut).resource == people[1]

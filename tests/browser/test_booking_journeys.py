"""A customer's whole journey in Chromium: book a wash and cancel it from the email's link;
rent a car for two days. The live server runs the real stack (Celery eager, emails kept in
memory), so what the browser sees is what a customer would."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from django_scopes import scopes_disabled
from playwright.sync_api import Page, expect

from bookings.models import Booking, BookingStatus, EmailKind, OutboxEmail
from tests.scenarios import HELSINKI, Shop


@pytest.fixture
def shop(live_server, settings) -> Shop:
    # Emails link to the server the browser talks to.
    settings.SITE_URL = live_server.url
    return Shop()


def _a_week_ahead():
    """A day a week from now, on Helsinki's calendar (the shop's zone): always bookable."""
    return timezone.localdate(timezone=HELSINKI) + timedelta(days=7)


def test_book_a_wash_then_cancel_it_from_the_emailed_link(page: Page, shop: Shop, screenshot):
    day = _a_week_ahead()

    # The landing page, the service, its location, the month, the day.
    page.goto(shop.url("home"))
    page.get_by_role("link", name="Choose a time for Wash").click()
    page.get_by_role("link", name=f"Choose a day at {shop.location.name}").click()
    if page.get_by_role("heading", name=day.strftime("%B %Y")).count() == 0:
        page.get_by_role("link", name=re.compile(f"{day:%B}")).click()  # next month
    page.get_by_role("link", name=f"{day:%A} {day.day} {day:%B}: free times").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"{day.day} {day:%B}")
    page.get_by_role("link", name="10:00", exact=True).click()

    # Details, with a mistake first: the message appears next to the field.
    page.get_by_label("Full name").fill("Aino Virtanen")
    page.get_by_label("Email").fill("aino@example")
    page.get_by_label("Vehicle type").select_option("suv")
    page.get_by_role("button", name="Review booking").click()
    expect(page.locator("#id_email_error")).to_have_text("Enter a valid email address.")
    expect(page.get_by_label("Email")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Email").fill("aino@example.com")
    page.get_by_label("Phone").fill("+358401234567")
    page.get_by_role("button", name="Review booking").click()

    # The review shows the exact price for an SUV; confirming books it.
    expect(page.get_by_test_id("price")).to_have_text("35.00 EUR")
    page.get_by_role("button", name="Confirm booking").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You are booked")
    code = page.get_by_test_id("confirmation-code").inner_text()
    expect(page.get_by_text(f"{day:%A} {day.day} {day:%B} {day.year}, 10:00")).to_be_visible()
    print(f"confirmation page: {screenshot('confirmation')}")

    # One confirmation email, with the link to manage the booking.
    (confirmation,) = mail.outbox
    assert code in confirmation.subject
    link = re.search(r"https?://\S+/manage/\S+/", confirmation.body).group(0)

    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Booking {code}")
    page.get_by_label("Why are you cancelling?").select_option("Found another time")
    page.get_by_label("Anything to add?").fill("Sorry!")
    page.get_by_role("button", name="Cancel booking").click()
    page.get_by_role("button", name="Yes, cancel the booking").click()
    expect(page.get_by_role("status")).to_have_text(
        "Your booking is cancelled. We have sent you an email."
    )
    expect(page.get_by_test_id("status")).to_have_text("Cancelled")

    with scopes_disabled():
        booking = Booking.objects.get(code=code)
        assert booking.status == BookingStatus.CANCELLED
        assert booking.cancellation_reason == "Found another time: Sorry!"
        assert list(booking.emails.values_list("kind", flat=True).order_by("created_at")) == [
            EmailKind.CONFIRMATION,
            EmailKind.CANCELLATION,
        ]
    assert len(mail.outbox) == 2 and mail.outbox[1].subject.startswith("Your booking is cancelled")


def test_rent_a_car_for_two_days(page: Page, shop: Shop, screenshot):
    pickup = _a_week_ahead()
    back = pickup + timedelta(days=2)

    page.goto(shop.url("home"))
    page.get_by_role("link", name="Find a free car for your dates").click()
    page.get_by_label("Location").select_option(label=shop.location.name)
    page.get_by_label("Pick-up date").fill(pickup.isoformat())
    page.get_by_label("Pick-up time").fill("10:00")
    page.get_by_label("Return date").fill(back.isoformat())
    page.get_by_label("Return time").fill("10:00")
    page.get_by_label("GPS navigation").check()
    page.get_by_role("button", name="Search").click()

    # Only the Volvo has GPS; two days at 80.00.
    expect(page.get_by_role("heading", level=2)).to_contain_text("1 car free")
    expect(page.get_by_text("160.00 EUR")).to_be_visible()
    page.get_by_role("link", name="Volvo V60 (2024)", exact=True).click()
    expect(page.get_by_text("Free for these dates")).to_be_visible()
    page.get_by_role("link", name="Continue to book").click()

    page.get_by_label("Full name").fill("Mikko Korhonen")
    page.get_by_label("Email").fill("mikko@example.com")
    page.get_by_role("button", name="Review booking").click()
    expect(page.get_by_test_id("price")).to_have_text("160.00 EUR")
    page.get_by_role("button", name="Confirm booking").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("You are booked")
    code = page.get_by_test_id("confirmation-code").inner_text()
    print(f"confirmation page: {screenshot('confirmation')}")
    with scopes_disabled():
        booking = Booking.objects.get(code=code)
        assert booking.resource == shop.car.resource
        assert booking.ends_at - booking.starts_at == timedelta(days=2)
        assert booking.starts_at.astimezone(HELSINKI).date() == pickup
        assert OutboxEmail.objects.filter(booking=booking, kind=EmailKind.CONFIRMATION).exists()

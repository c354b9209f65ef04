"""The resource calendar (/admin/calendar/): what it draws is exactly what the database holds,
placed on the location's wall clock (23- and 25-hour days included), with a fixed number of
queries, and each role sees what accounts.roles lets it see."""

from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import quote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_scopes import scopes_disabled

from bookings.models import BlockKind, Booking, BookingStatus, Closure, Maintenance, PaymentStatus
from bookings.selectors.calendar import ACTIVE_STATUSES, CalendarDay
from tests.factories import (
    BookingFactory,
    CarFactory,
    MembershipFactory,
    OpeningHoursFactory,
    OrganizationFactory,
    ResourceFactory,
    ServiceFactory,
    open_every_day,
)
from tests.scenarios import HELSINKI, MONDAY, Tenant

URL = reverse("admin:workspace_calendar")
SPRING_FORWARD = date(2030, 3, 31)  # Helsinki: 03:00 EET -> 04:00 EEST, a 23-hour day
FALL_BACK = date(2030, 10, 27)  # Helsinki: 04:00 EEST -> 03:00 EET, a 25-hour day


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=HELSINKI)


class World:
    """A tenant whose main location has two bays, the staff member's chair and a car, with a
    day (MONDAY) of bookings in every status, blocked time, maintenance and an hour's closure;
    and a booking at the annex, which the manager and staff member may not see."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant
        location = tenant.location
        open_every_day(location)
        open_every_day(tenant.other_location)
        self.bay1 = ResourceFactory(location=location, name="Bay 1")
        self.bay2 = ResourceFactory(location=location, name="Bay 2")
        self.chair = ResourceFactory(
            location=location, kind="staff", name="Chair", membership=tenant.staff_membership
        )
        self.car = CarFactory(resource__location=location, make="Volvo", model="V60")
        self.retired = ResourceFactory(location=location, name="Old bay", is_active=False)
        self.service = ServiceFactory(organization=tenant.organization, name="Full wash")
        self.active = [
            self.book(self.bay1, 9, BookingStatus.PENDING),
            self.book(self.bay1, 11, BookingStatus.CONFIRMED, payment=PaymentStatus.PAID),
            self.book(self.bay2, 10, BookingStatus.IN_PROGRESS),
            self.book(self.chair, 13, BookingStatus.COMPLETED, payment=PaymentStatus.DEPOSIT_PAID),
        ]
        self.cancelled = self.book(self.bay2, 14, BookingStatus.CANCELLED)
        self.no_show = self.book(self.chair, 15, BookingStatus.NO_SHOW)
        self.yesterday = self.book(
            self.bay1, 12, BookingStatus.CONFIRMED, day=MONDAY - timedelta(1)
        )
        self.annex = BookingFactory(
            resource=ResourceFactory(location=tenant.other_location, name="Annex bay"),
            service=self.service,
            starts_at=at(MONDAY, 10),
            ends_at=at(MONDAY, 11),
            status=BookingStatus.CONFIRMED,
        )
        with scopes_disabled():
            self.maintenance = Maintenance.objects.create(
                organization=tenant.organization,
                resource=self.bay2,
                kind=BlockKind.MAINTENANCE,
                starts_at=at(MONDAY, 15),
                ends_at=at(MONDAY, 17),
                reason="Pump repair",
            )
            self.lunch = Maintenance.objects.create(
                organization=tenant.organization,
                resource=self.chair,
                kind=BlockKind.BLOCKED,
                starts_at=at(MONDAY, 12),
                ends_at=at(MONDAY, 12, 30),
                reason="Lunch",
            )
            self.closure = Closure.objects.create(
                organization=tenant.organization,
                location=location,
                first_day=MONDAY,
                last_day=MONDAY,
                starts_at=time(16, 30),
                ends_at=time(17),
                reason="Staff meeting",
            )

    def book(self, resource, hour: int, status: str, payment=PaymentStatus.UNPAID, day=MONDAY):
        return BookingFactory(
            resource=resource,
            service=self.service,
            customer=self.tenant.customer,
            starts_at=at(day, hour),
            ends_at=at(day, hour + 1),
            status=status,
            payment_status=payment,
        )


@pytest.fixture
def world(tenant_a) -> World:
    return World(tenant_a)


def get(client, **params):
    return client.get(URL, {key: str(value) for key, value in params.items()})


def day_of(response) -> CalendarDay:
    assert response.status_code == 200, response.content
    return response.context["calendar"]


def drawn_ids(day: CalendarDay) -> set[int]:
    return {b.booking_id for column in day.columns for b in column.bookings}


# --- What is drawn ------------------------------------------------------------------------------


def test_day_draws_exactly_the_active_bookings_blocks_and_closures(world, client):
    client.force_login(world.tenant.owner)
    response = get(client, location=world.tenant.location.pk, date=MONDAY)
    day = day_of(response)

    day_start, day_end = at(MONDAY, 0), at(MONDAY + timedelta(1), 0)
    with scopes_disabled():
        expected = set(
            Booking.objects.filter(
                location=world.tenant.location,
                status__in=ACTIVE_STATUSES,
                starts_at__lt=day_end,
                ends_at__gt=day_start,
            ).values_list("pk", flat=True)
        )
        blocks = set(
            Maintenance.objects.filter(
                resource__location=world.tenant.location,
                starts_at__lt=day_end,
                ends_at__gt=day_start,
            ).values_list("reason", flat=True)
        )
    assert drawn_ids(day) == expected == {b.pk for b in world.active}
    assert {b.reason for column in day.columns for b in column.blocks} == blocks
    assert [band.reason for band in day.closures] == ["Staff meeting"]
    assert {b.booking_id for b in day.released} == {world.cancelled.pk, world.no_show.pk}

    html = response.content.decode()
    for booking in world.active:
        assert f'data-booking="{booking.pk}"' in html
        assert reverse("admin:bookings_booking_change", args=[booking.pk]) in html
    assert f'data-booking="{world.cancelled.pk}"' not in html  # listed, never a block
    assert "Pump repair" in html and "Out of service" in html and "Lunch" in html
    assert "Closed · Staff meeting" in html
    assert "In progress" in html and "Deposit paid" in html  # status and payment as text
    assert "Times in <strong>Europe/Helsinki (UTC+02:00)" in html


def test_blocks_sit_at_their_local_time_within_the_opening_hours(world, client):
    client.force_login(world.tenant.owner)
    day = day_of(get(client, location=world.tenant.location.pk, date=MONDAY))

    # Open 09-17: a 16-row window; 11:00-12:00 is a quarter of the way down, 1/8 of it tall.
    assert (day.starts_at, day.ends_at) == (at(MONDAY, 9), at(MONDAY, 17))
    assert len(day.rows) == 16 and day.rows[0].label == "09:00"
    block = next(b for c in day.columns for b in c.bookings if b.booking_id == world.active[1].pk)
    assert (block.top, block.height) == (25.0, 12.5)
    assert block.starts_at.strftime("%H:%M") == "11:00"


def test_columns_are_the_active_resources_and_empty_cells_link_to_the_desk(world, client):
    client.force_login(world.tenant.owner)
    response = get(client, location=world.tenant.location.pk, date=MONDAY)
    day = day_of(response)

    names = [column.resource.name for column in day.columns]
    assert sorted(names) == sorted(["Bay 1", "Bay 2", "Chair", world.car.resource.name])
    assert "Old bay" not in names
    bay1 = next(c for c in day.columns if c.resource == world.bay1)
    # 09:00 and 11:00 are booked; 10:00 is free.
    assert at(MONDAY, 9) not in [c.starts_at for c in bay1.cells]
    assert at(MONDAY, 10) in [c.starts_at for c in bay1.cells]
    html = response.content.decode()
    book = (
        f"{reverse('admin:workspace_book')}?location={world.tenant.location.pk}&amp;"
        f"resource={world.bay1.pk}&amp;starts_at={quote(at(MONDAY, 10).isoformat(), safe='')}"
    )
    assert book in html and "starts_at=2030-01-07T10%3A00%3A00%2B02%3A00" in html
    assert f"{reverse('admin:workspace_block')}?resource={world.bay1.pk}" in html


def test_week_shows_each_day_of_the_week(world, client):
    client.force_login(world.tenant.owner)
    response = get(
        client, location=world.tenant.location.pk, date=MONDAY + timedelta(2), view="week"
    )
    assert response.status_code == 200
    week = response.context["week"]
    assert [d.day for d in week.days] == [MONDAY + timedelta(n) for n in range(7)]
    assert drawn_ids(week.days[0]) == {b.pk for b in world.active}
    html = response.content.decode()
    for booking in world.active:
        assert f'data-booking="{booking.pk}"' in html


def test_rentals_span_their_days_and_today_lists_pick_ups_and_returns(world, client):
    rental = BookingFactory(
        rental=True,
        resource=world.car.resource,
        customer=world.tenant.customer,
        starts_at=at(MONDAY, 10),
        ends_at=at(MONDAY + timedelta(2), 10),
        status=BookingStatus.CONFIRMED,
    )
    client.force_login(world.tenant.owner)
    response = get(client, location=world.tenant.location.pk, date=MONDAY, view="timeline")
    assert response.status_code == 200
    timeline = response.context["timeline"]
    (row,) = timeline.rows
    (span,) = row.spans
    # 14 days from MONDAY: from 10:00 on the first day to 10:00 on the third.
    assert span.left == pytest.approx(100 * (10 / 24) / 14, abs=1e-3)
    assert span.width == pytest.approx(100 * 2 / 14, abs=1e-3)
    assert [b.booking_id for b in timeline.pickups] == [rental.pk]
    assert timeline.returns == []
    assert f'data-booking="{rental.pk}"' in response.content.decode()
    # On its middle day the rental fills the car's column without stretching the day's hours.
    tuesday = MONDAY + timedelta(1)
    day = day_of(get(client, location=world.tenant.location.pk, date=tuesday))
    assert (day.starts_at, day.ends_at) == (at(tuesday, 9), at(tuesday, 17))
    (block,) = next(c for c in day.columns if c.resource == world.car.resource).bookings
    assert (block.top, block.height, block.continues_before, block.continues_after) == (
        0.0,
        100.0,
        True,
        True,
    )


# --- Daylight saving ----------------------------------------------------------------------------


@pytest.fixture
def round_the_clock(db):
    """A Helsinki location open all day every day (00:00 to midnight) with one bay."""
    organization = OrganizationFactory(time_zone="Europe/Helsinki")
    owner = MembershipFactory(organization=organization, role="owner").user
    bay = ResourceFactory(location__organization=organization, name="Bay")
    for weekday in range(7):
        OpeningHoursFactory(
            location=bay.location, weekday=weekday, opens_at=time(0), closes_at=time(0)
        )
    return owner, bay


def test_spring_forward_day_has_23_hours_and_no_03_row(round_the_clock, client):
    owner, bay = round_the_clock
    # 02:00 EET to 05:00 EEST is two real hours: 00:00 to 02:00 UTC.
    booking = BookingFactory(
        resource=bay,
        starts_at=datetime(2030, 3, 31, 0, tzinfo=UTC),
        ends_at=datetime(2030, 3, 31, 2, tzinfo=UTC),
        status=BookingStatus.CONFIRMED,
    )
    client.force_login(owner)
    day = day_of(get(client, location=bay.location.pk, date=SPRING_FORWARD))

    assert day.day_hours == 23
    assert len(day.rows) == 46
    labels = [row.label for row in day.rows]
    assert "03:00" not in labels and "03:30" not in labels
    assert labels[4:8] == ["02:00", "02:30", "04:00", "04:30"]
    (block,) = day.columns[0].bookings
    assert block.booking_id == booking.pk
    assert block.top == pytest.approx(100 * 2 / 23, abs=1e-3)
    assert block.height == pytest.approx(100 * 2 / 23, abs=1e-3)
    assert (f"{block.starts_at:%H:%M}", f"{block.ends_at:%H:%M}") == ("02:00", "05:00")


def test_fall_back_day_has_25_hours_and_both_03_rows(round_the_clock, client):
    owner, bay = round_the_clock
    # The first 03:00 (EEST, 00:00 UTC) to the second (EET, 01:00 UTC): one real hour.
    booking = BookingFactory(
        resource=bay,
        starts_at=datetime(2030, 10, 27, 0, tzinfo=UTC),
        ends_at=datetime(2030, 10, 27, 1, tzinfo=UTC),
        status=BookingStatus.CONFIRMED,
    )
    client.force_login(owner)
    response = get(client, location=bay.location.pk, date=FALL_BACK)
    day = day_of(response)

    assert day.day_hours == 25
    assert len(day.rows) == 50
    threes = [row for row in day.rows if row.label == "03:00"]
    assert [row.offset for row in threes] == ["UTC+03:00", "UTC+02:00"]
    assert all(row.ambiguous for row in threes)
    assert threes[1].top - threes[0].top == pytest.approx(100 / 25, abs=1e-3)
    (block,) = day.columns[0].bookings
    assert block.booking_id == booking.pk
    assert block.top == pytest.approx(100 * 3 / 25, abs=1e-3)
    assert block.height == pytest.approx(100 / 25, abs=1e-3)
    html = response.content.decode()
    assert "UTC+03:00 then UTC+02:00" in html and "25 hours" in html


# --- Queries ------------------------------------------------------------------------------------


def _grow(world: World, count: int) -> None:
    """`count` more resources at the main location, each with a booking on MONDAY."""
    for n in range(count):
        resource = ResourceFactory(location=world.tenant.location, name=f"Extra {n}")
        BookingFactory(
            resource=resource,
            service=world.service,
            starts_at=at(MONDAY, 9 + n % 7),
            ends_at=at(MONDAY, 10 + n % 7),
            status=BookingStatus.CONFIRMED,
        )


@pytest.mark.parametrize("view", ["day", "week", "timeline"])
def test_query_count_does_not_grow_with_bookings_or_resources(
    world, client, view, django_assert_num_queries
):
    client.force_login(world.tenant.owner)
    params = {"location": world.tenant.location.pk, "date": MONDAY, "view": view}
    get(client, **params)  # warm the session and content types
    with CaptureQueriesContext(connection) as few:
        assert get(client, **params).status_code == 200

    _grow(world, 20)
    with django_assert_num_queries(len(few.captured_queries)):
        assert get(client, **params).status_code == 200


# --- Who sees what ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "main", "annex"),
    [("owner", 200, 200), ("manager", 200, 404), ("staff", 200, 404)],
)
def test_each_role_sees_its_locations(world, client, role, main, annex):
    client.force_login(world.tenant.user(role))
    assert get(client, location=world.tenant.location.pk, date=MONDAY).status_code == main
    assert get(client, location=world.tenant.other_location.pk, date=MONDAY).status_code == annex


def test_locations_offered_are_the_permitted_ones(world, client):
    client.force_login(world.tenant.manager)
    response = get(client, date=MONDAY)
    assert [loc.pk for loc in response.context["locations"]] == [world.tenant.location.pk]
    client.force_login(world.tenant.owner)
    response = get(client, date=MONDAY)
    assert {loc.pk for loc in response.context["locations"]} == {
        world.tenant.location.pk,
        world.tenant.other_location.pk,
    }


def test_another_tenants_location_is_as_missing_as_a_missing_one(world, tenant_b, client):
    client.force_login(world.tenant.owner)
    other = get(client, location=tenant_b.location.pk, date=MONDAY)
    missing = get(client, location=999_999_999, date=MONDAY)
    assert other.status_code == missing.status_code == 404
    assert tenant_b.location.name not in other.content.decode()


def test_staff_member_sees_own_column_first_and_others_only_as_busy(world, client):
    client.force_login(world.tenant.staff)
    response = get(client, location=world.tenant.location.pk, date=MONDAY)
    day = day_of(response)

    assert day.columns[0].resource == world.chair and day.columns[0].is_own
    # Every active booking is drawn, but only the staff member's own with its details.
    assert drawn_ids(day) == {b.pk for b in world.active}
    detailed = {b.booking_id for c in day.columns for b in c.bookings if b.detailed}
    assert detailed == {world.active[3].pk}
    busy = next(b for c in day.columns for b in c.bookings if b.booking_id == world.active[1].pk)
    assert busy.customer_name == "" and busy.code == ""
    html = response.content.decode()
    assert reverse("admin:bookings_booking_change", args=[world.active[1].pk]) not in html
    assert reverse("admin:bookings_booking_change", args=[world.active[3].pk]) in html
    # Staff may not read blocked time's reasons (no view_maintenance): only its kind.
    assert "Pump repair" not in html and "Out of service" in html


def test_a_member_without_locations_gets_a_friendly_empty_page(db, client):
    organization = OrganizationFactory()
    owner = MembershipFactory(organization=organization, role="owner").user
    client.force_login(owner)
    response = client.get(URL)
    assert response.status_code == 200
    assert "No locations to show" in response.content.decode()


@pytest.mark.parametrize(
    "params",
    [
        {"location": "abc"},
        {"date": "2030-13-01"},
        {"date": "yesterday"},
        {"date": "20300107"},
        {"date": "1999-12-31"},
        {"date": "2099-12-31"},
        {"view": "month"},
    ],
)
def test_bad_query_strings_are_answered_400(world, client, params):
    client.force_login(world.tenant.owner)
    response = client.get(URL, params)
    assert response.status_code == 400
    assert "This calendar address is not valid" in response.content.decode()


def test_no_query_string_shows_today_at_the_first_location(world, client, fixed_now):
    client.force_login(world.tenant.owner)
    response = client.get(URL)
    day = day_of(response)
    assert day.day == fixed_now.astimezone(HELSINKI).date()


def test_admin_home_and_sidebar_link_to_the_calendar(world, client):
    client.force_login(world.tenant.owner)
    home = client.get(reverse("admin:index")).content.decode()
    assert f'href="{URL}"' in home
    page = get(client, location=world.tenant.location.pk, date=MONDAY).content.decode()
    assert 'id="nav-sidebar"' in page and f'href="{URL}"' in page

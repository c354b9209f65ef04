"""Availability in the location's time zone: hours, breaks, closures, bookings, DST days."""

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scope

from bookings.models import BookingSource
from bookings.selectors import car_free_periods, service_slots
from bookings.services import booking_create, time_block_create
from tests.factories import (
    CarFactory,
    LocationFactory,
    OpeningHoursFactory,
    OrganizationFactory,
    ResourceFactory,
    ServiceFactory,
    open_every_day,
)
from tests.scenarios import MONDAY, NOW


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def starts(slots) -> list[datetime]:
    return [slot.starts_at for slot in slots]


def slots_on(wash, day, **kwargs):
    with scope(organization=wash.organization):
        return service_slots(
            service=wash.service,
            location=wash.location,
            date_from=day,
            date_to=day,
            now=NOW,
            **kwargs,
        )


def test_slots_follow_opening_hours_in_local_time(wash):
    slots = slots_on(wash, MONDAY)
    # 09:00-17:00 in Helsinki in winter (UTC+2), one-hour wash on the hour: 8 slots, 07-14 UTC.
    assert starts(slots) == [utc(2030, 1, 7, hour) for hour in range(7, 15)]
    assert all(slot.resource_ids == (wash.bay1.pk, wash.bay2.pk) for slot in slots)


def test_a_break_splits_the_day(wash):
    with scope(organization=wash.organization):
        wash.location.opening_hours.filter(weekday=MONDAY.weekday()).delete()
    OpeningHoursFactory(location=wash.location, weekday=0, opens_at=time(9), closes_at=time(12))
    OpeningHoursFactory(location=wash.location, weekday=0, opens_at=time(13), closes_at=time(15))
    assert starts(slots_on(wash, MONDAY)) == [utc(2030, 1, 7, h) for h in (7, 8, 9, 11, 12)]


@pytest.mark.parametrize(
    ("day", "first_slot_utc"),
    [
        (date(2026, 3, 28), utc(2026, 3, 28, 7)),  # Saturday, still EET (UTC+2)
        (date(2026, 3, 29), utc(2026, 3, 29, 6)),  # Sunday, clocks go forward: EEST (UTC+3)
        (date(2026, 10, 24), utc(2026, 10, 24, 6)),  # Saturday, EEST
        (date(2026, 10, 25), utc(2026, 10, 25, 7)),  # Sunday, clocks go back: EET
    ],
)
def test_daylight_saving_days_keep_slots_on_the_wall_clock(wash, day, first_slot_utc):
    with scope(organization=wash.organization):
        slots = service_slots(
            service=wash.service,
            location=wash.location,
            date_from=day,
            date_to=day,
            now=utc(2026, 1, 1),
        )
    assert slots[0].starts_at == first_slot_utc
    assert len(slots) == 8


@pytest.mark.parametrize(
    ("day", "hours_in_day"), [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25)]
)
def test_a_location_open_around_the_clock_has_23_or_25_hourly_slots_on_dst_days(
    db, day, hours_in_day
):
    organization = OrganizationFactory(time_zone="Europe/Helsinki")
    location = LocationFactory(organization=organization, time_zone="Europe/Helsinki")
    open_every_day(location, opens_at=time(0), closes_at=time(0))
    bay = ResourceFactory(location=location)
    service = ServiceFactory(organization=organization, resources=[bay])
    with scope(organization=organization):
        slots = service_slots(
            service=service, location=location, date_from=day, date_to=day, now=utc(2026, 1, 1)
        )
    assert len(slots) == hours_in_day
    assert all(b.starts_at - a.starts_at == timedelta(hours=1) for a, b in pairwise(slots))


def test_closures_remove_whole_days_or_hours_and_can_cover_the_whole_organization(wash):
    with scope(organization=wash.organization):
        wash.location.closures.create(
            organization=wash.organization,
            first_day=MONDAY,
            last_day=MONDAY,
            starts_at=time(12),
            ends_at=time(14),
            reason="Staff meeting",
        )
        wash.organization.closures.create(
            location=None,
            first_day=MONDAY + timedelta(days=1),
            last_day=MONDAY + timedelta(days=1),
            reason="Holiday",
        )
    assert starts(slots_on(wash, MONDAY)) == [utc(2030, 1, 7, h) for h in (7, 8, 9, 12, 13, 14)]
    assert slots_on(wash, MONDAY + timedelta(days=1)) == []


def test_a_booking_takes_one_bay_and_buffers_keep_the_next_slot_clear(wash):
    with scope(organization=wash.organization):
        wash.service.buffer_after_minutes = 15
        wash.service.save(update_fields=["buffer_after_minutes"])
        booking_create(
            actor=None,
            source=BookingSource.STAFF,
            service=wash.service,
            location=wash.location,
            customer=wash.customer,
            starts_at=utc(2030, 1, 7, 8),
            resource=wash.bay1,
        )
    by_start = {slot.starts_at: slot.resource_ids for slot in slots_on(wash, MONDAY)}
    assert by_start[utc(2030, 1, 7, 8)] == (wash.bay2.pk,)
    # 09:00 would start before the 15-minute clean-up after the 08:00 wash ends... on bay 1 only.
    assert by_start[utc(2030, 1, 7, 9)] == (wash.bay2.pk,)
    assert by_start[utc(2030, 1, 7, 10)] == (wash.bay1.pk, wash.bay2.pk)
    # A 07:00 wash on bay 1 would need its own clean-up until 08:15, into the 08:00 booking.
    assert by_start[utc(2030, 1, 7, 7)] == (wash.bay2.pk,)
    # A chosen resource only shows its own free slots.
    assert utc(2030, 1, 7, 8) not in starts(slots_on(wash, MONDAY, resource=wash.bay1))


def test_maintenance_blocks_slots_like_a_booking(wash):
    with scope(organization=wash.organization):
        for bay in (wash.bay1, wash.bay2):
            time_block_create(
                actor=None,
                resource=bay,
                starts_at=utc(2030, 1, 7, 7),
                ends_at=utc(2030, 1, 7, 9),
                reason="Brush replacement",
            )
    assert starts(slots_on(wash, MONDAY))[0] == utc(2030, 1, 7, 9)


def test_minimum_notice_and_maximum_advance_window(wash):
    with scope(organization=wash.organization):
        wash.service.minimum_notice_minutes = 120
        wash.service.maximum_advance_days = 1
        wash.service.save(update_fields=["minimum_notice_minutes", "maximum_advance_days"])
        now = utc(2030, 1, 7, 8, 30)
        slots = service_slots(
            service=wash.service,
            location=wash.location,
            date_from=MONDAY,
            date_to=MONDAY + timedelta(days=2),
            now=now,
        )
    assert slots[0].starts_at == utc(2030, 1, 7, 11)  # 10:30 + notice, on the hour
    assert slots[-1].starts_at <= now + timedelta(days=1)


def test_inactive_services_and_resources_offer_nothing(wash):
    with scope(organization=wash.organization):
        wash.bay1.is_active = False
        wash.bay1.save(update_fields=["is_active"])
    assert all(slot.resource_ids == (wash.bay2.pk,) for slot in slots_on(wash, MONDAY))
    with scope(organization=wash.organization):
        wash.service.is_active = False
        wash.service.save(update_fields=["is_active"])
    assert slots_on(wash, MONDAY) == []


def test_the_number_of_queries_does_not_grow_with_days_or_resources(wash):
    def queries_for(days: int) -> int:
        with scope(organization=wash.organization), CaptureQueriesContext(connection) as ctx:
            service_slots(
                service=wash.service,
                location=wash.location,
                date_from=MONDAY,
                date_to=MONDAY + timedelta(days=days - 1),
                now=NOW,
                use_cache=False,
            )
        return len(ctx.captured_queries)

    one_day = queries_for(1)
    for _ in range(5):
        ResourceFactory(location=wash.location).services.add(wash.service)
    assert queries_for(30) == one_day <= 5


def test_free_periods_of_a_car_around_its_rentals(db):
    organization = OrganizationFactory(time_zone="Europe/Stockholm")
    location = LocationFactory(organization=organization, time_zone="Europe/Stockholm")
    open_every_day(location, opens_at=time(8), closes_at=time(20))
    car = CarFactory(resource__location=location)
    with scope(organization=organization):
        time_block_create(
            actor=None,
            resource=car.resource,
            starts_at=utc(2030, 1, 8, 9),
            ends_at=utc(2030, 1, 9, 9),
            reason="Service",
        )
        free = car_free_periods(car=car, date_from=MONDAY, date_to=MONDAY + timedelta(days=3))
    # Stockholm is UTC+1 in January: local midnights are 23:00 UTC the day before.
    assert free == [
        (utc(2030, 1, 6, 23), utc(2030, 1, 8, 9)),
        (utc(2030, 1, 9, 9), utc(2030, 1, 10, 23)),
    ]

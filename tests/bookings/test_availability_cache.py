"""Availability is cached per day under versioned keys and invalidated exactly by changes."""

import logging
from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scope

from bookings.models import BookingSource
from bookings.selectors import service_slots
from bookings.services import booking_cancel, booking_create
from tests.bookings.conftest import MONDAY, NOW

EIGHT = datetime(2030, 1, 7, 8, tzinfo=UTC)


def slots(wash, days=1):
    with scope(organization=wash.organization):
        return service_slots(
            service=wash.service,
            location=wash.location,
            date_from=MONDAY,
            date_to=MONDAY + timedelta(days=days - 1),
            now=NOW,
        )


def queries_for(wash) -> int:
    with CaptureQueriesContext(connection) as ctx:
        slots(wash)
    return len(ctx.captured_queries)


def test_a_second_read_comes_from_the_cache_without_touching_the_database(wash):
    first = slots(wash)
    assert queries_for(wash) == 1  # the service's resources; the slots themselves are cached
    assert slots(wash) == first


def test_a_committed_booking_invalidates_that_day_and_only_that_day(
    wash, django_capture_on_commit_callbacks
):
    slots(wash, days=2)
    with django_capture_on_commit_callbacks(execute=True), scope(organization=wash.organization):
        booking = booking_create(
            actor=None,
            source=BookingSource.STAFF,
            service=wash.service,
            location=wash.location,
            customer=wash.customer,
            starts_at=EIGHT,
            resource=wash.bay1,
        )
    by_start = {s.starts_at: s.resource_ids for s in slots(wash)}
    assert by_start[EIGHT] == (wash.bay2.pk,)

    with django_capture_on_commit_callbacks(execute=True), scope(organization=wash.organization):
        booking_cancel(actor=None, booking=booking, expected_version=1, by_staff=True)
    assert {s.starts_at: s.resource_ids for s in slots(wash)}[EIGHT] == (wash.bay1.pk, wash.bay2.pk)


def test_changing_opening_hours_invalidates_through_the_reference_version(
    wash, django_capture_on_commit_callbacks
):
    assert slots(wash)[0].starts_at == EIGHT - timedelta(hours=1)
    with django_capture_on_commit_callbacks(execute=True), scope(organization=wash.organization):
        hours = wash.location.opening_hours.get(weekday=MONDAY.weekday())
        hours.opens_at = time(12)
        hours.save(update_fields=["opens_at"])
    assert slots(wash)[0].starts_at == datetime(2030, 1, 7, 10, tzinfo=UTC)


def test_an_uncommitted_change_does_not_invalidate(wash, django_capture_on_commit_callbacks):
    before = slots(wash)
    with django_capture_on_commit_callbacks(execute=False), scope(organization=wash.organization):
        booking_create(
            actor=None,
            source=BookingSource.STAFF,
            service=wash.service,
            location=wash.location,
            customer=wash.customer,
            starts_at=EIGHT,
            resource=wash.bay1,
        )
    # Nothing committed yet as far as readers are concerned: the cached day stands.
    assert slots(wash) == before


@pytest.fixture
def unreachable_redis(settings):
    # A real django-redis client against a port nothing listens on.
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 0.25,
                "SOCKET_TIMEOUT": 0.25,
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    yield  # changing CACHES makes Django drop its cache connections, before and after


def test_an_unreachable_redis_is_logged_and_answered_from_the_database(
    wash, unreachable_redis, caplog
):
    started = datetime.now()
    with caplog.at_level(logging.ERROR, logger="django_redis.cache"):
        result = slots(wash)
    assert [s.starts_at for s in result][:2] == [EIGHT - timedelta(hours=1), EIGHT]
    assert datetime.now() - started < timedelta(seconds=5)
    assert any("Connection" in record.getMessage() or record.exc_info for record in caplog.records)

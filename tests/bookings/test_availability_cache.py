"""Availability is cached per day under versioned keys and invalidated exactly by changes."""

import logging
from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scope

from bookings.selectors import service_slots
from bookings.services import booking_cancel
from config.cache import breaker_for
from tests.scenarios import EIGHT, MONDAY, NOW, book


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
    # The generations; the service's resources come from the process's reference data of that
    # generation, the slots themselves from the cache.
    assert queries_for(wash) == 1
    assert slots(wash) == first


def test_a_committed_booking_invalidates_that_day_and_only_that_day(
    wash, django_capture_on_commit_callbacks
):
    slots(wash, days=2)
    with django_capture_on_commit_callbacks(execute=True), scope(organization=wash.organization):
        booking = book(wash, resource=wash.bay1)
    by_start = {s.starts_at: s.resource_ids for s in slots(wash)}
    assert by_start[EIGHT] == (wash.bay2.pk,)

    with django_capture_on_commit_callbacks(execute=True), scope(organization=wash.organization):
        booking_cancel(actor=None, booking=booking, expected_version=1)
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


@pytest.fixture
def unreachable_redis(settings):
    # The project's backend against a port nothing listens on.
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.CircuitBreakerRedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 0.25,
                "SOCKET_TIMEOUT": 0.25,
                "IGNORE_EXCEPTIONS": True,
                "BREAKER_SECONDS": 60,
            },
        }
    }
    yield  # changing CACHES makes Django drop its cache connections, before and after
    breaker_for("redis://127.0.0.1:9/0", 60).succeeded()


class Collected(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


def test_an_unreachable_redis_is_logged_once_and_answered_from_the_database(
    wash, unreachable_redis
):
    collected = Collected()
    logger = logging.getLogger("config.cache")
    logger.addHandler(collected)
    try:
        started = datetime.now()
        results = [slots(wash) for _ in range(3)]
    finally:
        logger.removeHandler(collected)
    assert [s.starts_at for s in results[0]][:2] == [EIGHT - timedelta(hours=1), EIGHT]
    assert results[0] == results[1] == results[2]
    assert datetime.now() - started < timedelta(seconds=5)
    # One warning for the outage, without a traceback; the later reads skipped Redis.
    assert [(r.levelno, r.exc_info) for r in collected.records] == [(logging.WARNING, None)]
    assert "unreachable" in collected.records[0].getMessage()


@pytest.fixture
def real_redis(settings):
    """The django-redis backend on a real Redis (REDIS_URL, or the local default)."""
    import os

    import redis

    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis at {url}")
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "booking-test-real-redis",
        }
    }
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def test_on_real_redis_a_booking_refreshes_its_day_and_leaves_other_days_cached(
    wash, real_redis, django_capture_on_commit_callbacks
):
    tuesday = MONDAY + timedelta(days=1)

    def day(which):
        with scope(organization=wash.organization), CaptureQueriesContext(connection) as ctx:
            result = service_slots(
                service=wash.service,
                location=wash.location,
                date_from=which,
                date_to=which,
                now=NOW,
            )
        return result, len(ctx.captured_queries)

    day(MONDAY), day(tuesday)  # both days cached
    wednesday_noon = datetime(2030, 1, 9, 10, tzinfo=UTC)
    with django_capture_on_commit_callbacks(execute=True), scope(organization=wash.organization):
        book(wash, starts_at=wednesday_noon, resource=wash.bay1)
    # Monday is two days away from the booking: still served from Redis (the generations
    # query; the resources come from the process's reference data); Tuesday borders it and is
    # recomputed (its generation was bumped).
    _, monday_queries = day(MONDAY)
    assert monday_queries == 1
    _, tuesday_queries = day(tuesday)
    assert tuesday_queries > 1
    wednesday_slots, _ = day(tuesday + timedelta(days=1))
    assert {s.starts_at: s.resource_ids for s in wednesday_slots}[wednesday_noon] == (wash.bay2.pk,)


def test_every_kind_of_write_bumps_the_generations(wash):
    """The triggers see writes no signal would: a bulk update, the resources of a service."""
    from bookings.models import Occupancy

    with scope(organization=wash.organization):
        booking = book(wash, resource=wash.bay1)
        slots(wash)  # cached with the booking at EIGHT on bay 1
        Occupancy.objects.filter(booking=booking).update(resource=wash.bay2)
        assert {s.starts_at: s.resource_ids for s in slots(wash)}[EIGHT] == (wash.bay1.pk,)

        wash.service.resources.remove(wash.bay1)
        assert EIGHT not in {s.starts_at for s in slots(wash)}

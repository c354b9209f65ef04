"""/metrics in-process: what the platform counts, and who may read it."""

from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client, override_settings
from django_scopes import scope

from analytics.models import ReportView, ViewRefresh
from bookings.errors import SlotUnavailable
from bookings.selectors import service_slots
from tests.operations.conftest import value
from tests.scenarios import EIGHT, CarWash, book

DAY = EIGHT.date()


@pytest.fixture
def wash(db, fixed_now, empty_cache) -> CarWash:
    return CarWash()


def test_a_booking_a_refusal_and_the_email_sent_are_counted(
    wash, scrape, django_capture_on_commit_callbacks
):
    before = scrape()

    # Given a booking (its confirmation email is sent after the commit, by the eager task)
    with scope(organization=wash.organization), django_capture_on_commit_callbacks(execute=True):
        booking = book(wash)
        book(wash)  # the second bay
    # and a refusal: both bays are taken at that time
    with scope(organization=wash.organization), pytest.raises(SlotUnavailable) as refused:
        book(wash)
    assert len(mail.outbox) == 2
    # and a customer looking at that day twice: computed, then from the cache
    with scope(organization=wash.organization):
        for _ in range(2):
            service_slots(service=wash.service, location=wash.location, date_from=DAY, date_to=DAY)

    after = scrape()

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("booking_bookings_created_total", source=booking.source) == 2
    assert grew("booking_bookings_refused_total", reason=refused.value.code) == 1
    assert grew("booking_emails_total", outbox="outboxemail", outcome="sent") == 2
    assert grew("booking_celery_tasks_total", task="bookings.tasks.outbox_email_send",
                outcome="succeeded") == 2  # fmt: skip
    assert grew("booking_availability_cache_days_total", result="miss") == 1
    assert grew("booking_availability_cache_days_total", result="hit") == 1
    # The statements the bookings ran were timed.
    assert grew("booking_db_query_duration_seconds_count", alias="default") > 0


def test_backlogs_and_connections_are_read_at_scrape_time(wash, scrape, fixed_now):
    with scope(organization=wash.organization):
        book(wash)  # no on-commit in this test's transaction: its email stays pending
    ViewRefresh.objects.update_or_create(
        view=ReportView.LOCATION_DAY,
        defaults={"as_of": fixed_now - timedelta(minutes=15), "duration": timedelta(seconds=2)},
    )

    samples = scrape()

    assert value(samples, "booking_outbox_emails", outbox="outboxemail", status="pending") == 1
    assert value(samples, "booking_outbox_emails", outbox="outboxemail", status="failed") == 0
    # The app's clock (fixed in this test) made the row: it is no age at all.
    assert value(samples, "booking_outbox_oldest_pending_age_seconds", outbox="outboxemail") == 0
    assert value(samples, "booking_db_server_connections", state="active") >= 1
    assert value(samples, "booking_db_server_max_connections") > 0
    assert value(samples, "booking_analytics_view_age_seconds", view=ReportView.LOCATION_DAY) == 900
    for collector in ("outbox", "database", "analytics"):
        assert value(samples, "booking_metrics_collector_up", collector=collector) == 1
    # django-prometheus's request metrics are there too, per view.
    assert any(name.startswith("django_http_requests_latency") for name, _ in samples)


@pytest.mark.django_db
@override_settings(METRICS_ALLOWED_IPS=["10.0.0.0/8"], METRICS_BEARER_TOKEN="s3cret-token")
def test_only_allowed_networks_or_the_token_may_read_metrics():
    assert Client(REMOTE_ADDR="192.0.2.10").get("/metrics").status_code == 403
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 403
    assert (
        Client(REMOTE_ADDR="192.0.2.10", HTTP_X_FORWARDED_FOR="10.1.1.1").get("/metrics")
    ).status_code == 403  # a header anyone can write is not an address
    wrong = Client(REMOTE_ADDR="192.0.2.10", HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.get("/metrics").status_code == 403

    assert Client(REMOTE_ADDR="10.20.30.40").get("/metrics").status_code == 200
    token = Client(REMOTE_ADDR="192.0.2.10", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert token.get("/metrics").status_code == 200


@pytest.mark.django_db
def test_cache_operations_are_timed_and_failures_counted_even_when_ignored(
    private_redis, settings, scrape
):
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.CircuitBreakerRedisCache",
            "LOCATION": private_redis.url,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.25, "SOCKET_TIMEOUT": 0.25,
                        "IGNORE_EXCEPTIONS": True},
        }
    }  # fmt: skip
    from django.core.cache import cache

    before = scrape()
    cache.set("metered", 1)
    assert cache.get("metered") == 1

    # When Redis stops, callers see a miss (django-redis ignores the error) ...
    private_redis.stop()
    assert cache.get("metered") is None
    after = scrape()

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("booking_cache_operation_duration_seconds_count", operation="set") == 1
    assert grew("booking_cache_operation_duration_seconds_count", operation="get") == 2
    # ... and the metric still sees the failure
    assert grew("booking_cache_errors_total", operation="get") == 1
    assert grew("booking_cache_errors_total", operation="set") == 0

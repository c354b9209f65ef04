"""/metrics reads each Celery queue's depth from the real broker at scrape time."""

import os

import pytest
from django.conf import settings
from django.test import Client

from config.api.tasks import idempotency_records_purge
from tests.celery.worker import wait_for
from tests.ops.conftest import parse_metrics, value

pytestmark = pytest.mark.skipif(
    not os.environ.get("CELERY_BROKER_URL") or settings.CELERY_BROKER_URL == "memory://",
    reason="no CELERY_BROKER_URL: the queue depth needs Redis or RabbitMQ; .ci/run provides one",
)


@pytest.mark.django_db
def test_tasks_waiting_for_a_worker_are_the_queue_depth(broker_queue):
    def depth() -> float:
        samples = parse_metrics(Client().get("/metrics").content.decode())
        assert value(samples, "booking_metrics_collector_up", collector="celery_queues") == 1
        return value(samples, "booking_celery_queue_depth", queue=broker_queue)

    # Given a queue no worker consumes, with nothing in it yet
    idempotency_records_purge.delay()  # declares the queue
    first = depth()
    # When two more tasks are queued
    idempotency_records_purge.delay()
    idempotency_records_purge.delay()
    # then they wait there (the broker counts a published message within moments)
    wait_for(lambda: depth() == first + 2, "the queue depth to count the two tasks", timeout=10)

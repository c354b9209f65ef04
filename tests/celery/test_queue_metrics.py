"""Celery in the metrics: each queue's depth read from the real broker at scrape time by the web
/metrics, and task outcomes served by the worker itself (CELERY_WORKER_METRICS_PORT)."""

import os
import urllib.request

import pytest
from django.conf import settings
from django.test import Client
from django_scopes import scope

from config.api.tasks import idempotency_records_purge
from tests.celery.worker import wait_for
from tests.operations.conftest import parse_metrics, value
from tests.scenarios import book
from tests.servers import free_port

SEND = "bookings.tasks.outbox_email_send"

pytestmark = pytest.mark.skipif(
    not os.environ.get("CELERY_BROKER_URL") or settings.CELERY_BROKER_URL == "memory://",
    reason="no CELERY_BROKER_URL: the queue depth needs Redis or RabbitMQ; .ci/run provides one",
)


@pytest.mark.django_db
def test_tasks_waiting_for_a_worker_are_the_queue_depth(broker_queues):
    broker_queue = broker_queues["housekeeping"]  # where the purge is routed

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


@pytest.mark.django_db(transaction=True)
def test_a_worker_serves_the_outcomes_of_its_tasks(wash, start_worker, tmp_path):
    port = free_port()
    multiproc = tmp_path / "worker-metrics"
    multiproc.mkdir()
    worker = start_worker(
        env={"CELERY_WORKER_METRICS_PORT": str(port), "PROMETHEUS_MULTIPROC_DIR": str(multiproc)}
    )
    with scope(organization=wash.organization):
        book(wash)
    wait_for(lambda: worker.task_results(SEND), "the email task to run", workers=[worker])

    def outcomes() -> float:
        # The pool child ran the task; the worker's main process serves what it counted.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as page:
            samples = parse_metrics(page.read().decode())
        return value(samples, "booking_celery_tasks_total", task=SEND, outcome="succeeded")

    assert wait_for(outcomes, "the worker's metrics to count the task", workers=[worker]) == 1

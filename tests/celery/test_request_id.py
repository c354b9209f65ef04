"""The request id reaches the tasks a request queues: a real worker logs with it (JSON lines)."""

import json
import os

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.test import RequestFactory
from django_scopes import scope

from config.operations.request_id import RequestIdMiddleware, request_id
from tests.celery.worker import wait_for
from tests.scenarios import book

pytestmark = [
    pytest.mark.skipif(
        not os.environ.get("CELERY_BROKER_URL") or settings.CELERY_BROKER_URL == "memory://",
        reason="no CELERY_BROKER_URL: the real-worker tests need Redis or RabbitMQ; "
        ".ci/run provides one",
    ),
    pytest.mark.django_db(transaction=True),
]


def json_lines(text: str) -> list[dict]:
    lines = []
    for line in text.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue  # the worker's start-up banner is not a log line
    return lines


def test_a_task_queued_by_a_request_logs_with_the_request_id(wash, start_worker, mail):
    worker = start_worker(env={"LOG_FORMAT": "json"})

    # Given a request, with the id its load balancer gave it, that books (and so queues the
    # confirmation email when its transaction commits)
    def view(request) -> HttpResponse:
        with scope(organization=wash.organization):
            book(wash)
        return HttpResponse()

    request = RequestFactory().post("/", HTTP_X_REQUEST_ID="req-from-the-lb-0001")
    try:
        response = RequestIdMiddleware(view)(request)
    finally:
        request_id.set(None)  # what request_finished does when a server closes the response
    assert response["X-Request-ID"] == "req-from-the-lb-0001"

    # then the worker's log lines of that task carry the id
    def task_lines() -> list[dict]:
        return [
            line
            for line in json_lines(worker.log())
            if line.get("request_id") == "req-from-the-lb-0001"
        ]

    lines = wait_for(
        lambda: [line for line in task_lines() if line["message"].endswith(" sent")],
        "the worker to log the email as sent",
        workers=[worker],
    )
    assert lines[0]["logger"] == "accounts.outbox"
    assert {"time", "level", "logger", "message", "request_id"} <= set(lines[0])
    assert len(mail.sent()) == 1
    # and a line logged outside any request has none
    assert any(line["request_id"] == "-" for line in json_lines(worker.log()))

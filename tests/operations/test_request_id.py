"""One id per request: chosen by the caller when sane, echoed, on every log line."""

import logging

import pytest
from django.test import Client

from config.operations.request_id import RequestIdFilter, request_id


@pytest.mark.django_db
def test_a_sane_id_from_the_proxy_is_kept_and_echoed():
    response = Client().get("/health/live", HTTP_X_REQUEST_ID="lb-7f3a9c21.01")
    assert response["X-Request-ID"] == "lb-7f3a9c21.01"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "offered", ["", "short", "x" * 129, "bad id with spaces", "new\nline", "ünïcode-12345"]
)
def test_anything_else_gets_an_id_of_our_own(offered):
    response = Client().get("/health/live", HTTP_X_REQUEST_ID=offered)
    assert response["X-Request-ID"] != offered
    assert len(response["X-Request-ID"]) == 32


@pytest.mark.django_db
def test_every_page_answers_with_its_id():
    first, second = Client().get("/admin/login/"), Client().get("/admin/login/")
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_log_records_carry_the_current_id():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    token = request_id.set("abc12345")
    try:
        RequestIdFilter().filter(record)
    finally:
        request_id.reset(token)
    assert record.request_id == "abc12345"

    outside = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    RequestIdFilter().filter(outside)
    assert outside.request_id == "-"

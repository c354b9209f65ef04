"""The probes, in-process: what they answer, and that they never hang on a dead dependency."""

import time

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import Client, override_settings

from config.operations import health
from tests.servers import free_port


@pytest.fixture
def probe() -> Client:
    # A load balancer's probe: its own Host header, no cookies, no session.
    return Client(HTTP_HOST="10.0.0.7:8000")


def test_live_answers_without_touching_anything(probe):
    # No django_db mark: a query would fail this test.
    response = probe.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_ready_reports_each_dependency_with_its_latency(probe):
    response = probe.get("/health/ready")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["database"]["latency_ms"] >= 0
    # Nothing about tenants: only the checks' names, states and timings.
    assert set(body) == {"status", "checks"}
    assert set(body["checks"]) == {"database", "redis", "broker"}


@pytest.mark.django_db
@override_settings(REDIS_URL=None, CELERY_BROKER_URL="memory://", CELERY_TASK_ALWAYS_EAGER=True)
def test_unconfigured_dependencies_do_not_fail_the_probe(probe):
    response = probe.get("/health/ready")

    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks["redis"] == {"status": "not configured"}
    assert checks["broker"] == {"status": "not configured"}


@pytest.mark.django_db
def test_a_broker_nobody_listens_on_is_down_within_two_seconds(probe):
    # Nothing listens on this port: a stopped RabbitMQ looks like this to a client.
    url = f"amqp://guest:guest@127.0.0.1:{free_port()}//"
    with override_settings(CELERY_BROKER_URL=url, CELERY_TASK_ALWAYS_EAGER=False):
        started = time.monotonic()
        response = probe.get("/health/ready")
        elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert elapsed < 2
    body = response.json()
    assert body["status"] == "down"
    assert body["checks"]["broker"]["status"] == "down"
    assert body["checks"]["database"]["status"] == "ok"
    assert "127.0.0.1" not in response.content.decode()  # addresses stay in the log


@pytest.mark.django_db
def test_probes_refuse_writes(probe):
    assert probe.post("/health/ready").status_code == 405
    assert probe.head("/health/live").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_code_newer_than_the_schema_is_not_ready(probe, monkeypatch):
    # Given a database where the newest migration of an app is not recorded as applied
    monkeypatch.setattr(health, "_migrations_applied", False)
    recorder = MigrationRecorder(connection)
    newest = recorder.migration_qs.filter(app="analytics").order_by("-id").first()
    newest.delete()
    try:
        response = probe.get("/health/ready")
    finally:
        recorder.record_applied(newest.app, newest.name)

    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {
        "status": "down",
        "error": "unapplied migrations",
        "latency_ms": response.json()["checks"]["database"]["latency_ms"],
    }
    # and once it is migrated, ready again
    assert probe.get("/health/ready").status_code == 200

"""The platform as deployed: production settings under gunicorn (two workers), static files from
WhiteNoise, the probes and /metrics, JSON logs; and the readiness probe against real servers
that are stopped (tests/servers.py)."""

import http.client
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.celery.worker import database_url
from tests.operations.conftest import parse_metrics
from tests.servers import REPOSITORY, Gunicorn, PrivateRedis, running

TOKEN = "metrics-token-for-the-test"
HTTPS = {"X-Forwarded-Proto": "https"}  # what the TLS-terminating proxy in front sends

pytestmark = pytest.mark.skipif(
    not os.environ.get("REDIS_URL") or not os.environ.get("CELERY_BROKER_URL"),
    reason="production settings need REDIS_URL and CELERY_BROKER_URL (.ci/run sets them)",
)


def fetch(server: Gunicorn, path: str, headers: dict | None = None) -> http.client.HTTPResponse:
    """One request, redirects not followed; the body is read into `.body`."""
    client = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    client.request("GET", path, headers={"Host": "127.0.0.1"} | (headers or {}))
    response = client.getresponse()
    response.body = response.read()
    client.close()
    return response


@pytest.fixture(scope="module")
def static_root(tmp_path_factory) -> Path:
    """`collectstatic` as `make serve` runs it: compressed files with hashed names."""
    root = tmp_path_factory.mktemp("static")
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=REPOSITORY,
        env=os.environ
        | {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": "collectstatic",
            **encryption_keys(),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "STATIC_ROOT": str(root),
        },
        check=True,
        timeout=300,
    )
    return root


def encryption_keys() -> dict[str, str]:
    """The test run's own keys: the server reads the rows this process wrote."""
    return {
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "BLIND_INDEX_KEY": settings.BLIND_INDEX_KEY,
    }


def production_env(static_root: Path, **more: str) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "a-secret-key-for-the-serving-test-only",
        **encryption_keys(),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url(connection.settings_dict),  # the test database
        "STATIC_ROOT": str(static_root),
        "LOG_FORMAT": "json",
        # Scrapers live in 10/8; loopback (this test) is not allowed without the token.
        "METRICS_ALLOWED_IPS": "10.0.0.0/8",
        "METRICS_BEARER_TOKEN": TOKEN,
        # Empty, as a blank env-file line leaves it: gunicorn.conf.py makes each server its own.
        "PROMETHEUS_MULTIPROC_DIR": "",
    } | more


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, static_root, tmp_path_factory) -> Iterator:
    with running(Gunicorn(tmp_path_factory.mktemp("gunicorn"), production_env(static_root))) as up:
        yield up


def test_the_admin_is_served_with_its_styles(server):
    login = fetch(server, "/admin/login/", HTTPS)
    assert login.status == 200, server.log()[-3000:]
    stylesheet = re.search(rb'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', login.body)
    assert stylesheet, "the login page links the hashed stylesheet"

    css = fetch(server, stylesheet[1].decode(), HTTPS | {"Accept-Encoding": "gzip"})
    assert css.status == 200
    assert css.getheader("Content-Type").startswith("text/css")
    assert css.getheader("Content-Encoding") == "gzip"
    # A hashed name never changes content: cached for ten years.
    assert "max-age=315360000" in css.getheader("Cache-Control")
    assert "immutable" in css.getheader("Cache-Control")


def test_plain_http_is_sent_to_https_but_probes_are_not(server):
    assert fetch(server, "/admin/login/").status == 301
    # A load balancer probes over http, with its own Host header.
    assert fetch(server, "/health/live", {"Host": "10.1.2.3"}).status == 200
    ready = fetch(server, "/health/ready", {"Host": "10.1.2.3"})
    assert ready.status == 200, ready.body
    checks = json.loads(ready.body)["checks"]
    assert {name: check["status"] for name, check in checks.items()} == {
        "database": "ok",
        "redis": "ok",
        "broker": "ok",
    }


def test_metrics_are_refused_to_strangers_and_summed_over_workers(server):
    refused = fetch(server, "/metrics")
    assert refused.status == 403
    assert b"booking_" not in refused.body

    for _ in range(6):
        assert fetch(server, "/admin/login/", HTTPS).status == 200
    scraped = fetch(server, "/metrics", {"Authorization": f"Bearer {TOKEN}"})

    assert scraped.status == 200
    samples = parse_metrics(scraped.body.decode())
    login_views = sum(
        count
        for (name, labels), count in samples.items()
        if name == "django_http_requests_total_by_view_transport_method_total"
        and dict(labels).get("view") == "admin:login"
    )
    # Two workers answered; the scrape, whichever worker took it, counts them all.
    assert login_views >= 6
    assert any(name == "booking_db_query_duration_seconds_count" for name, _ in samples)


def test_log_lines_are_json_with_the_request_id(server):
    missing = fetch(server, "/no-such-business/", HTTPS | {"X-Request-ID": "trace-0000000042"})
    assert missing.status == 404
    assert missing.getheader("X-Request-ID") == "trace-0000000042"

    def lines() -> list[dict]:
        found = []
        for line in server.log().splitlines():
            if line.startswith("{"):
                found.append(json.loads(line))
        return found

    deadline = time.monotonic() + 10
    while not any(line.get("request_id") == "trace-0000000042" for line in lines()):
        assert time.monotonic() < deadline, server.log()[-3000:]
        time.sleep(0.1)
    (logged,) = [line for line in lines() if line.get("request_id") == "trace-0000000042"]
    assert logged["level"] == "WARNING"
    assert logged["logger"] == "django.request"


def test_ready_is_503_within_two_seconds_when_redis_or_the_broker_stops(
    django_db_setup, static_root, tmp_path
):
    # Given a deployment whose cache and broker are servers of this test's own (the broker is a
    # Redis: a private RabbitMQ needs a node of its own; an unused amqp port is test_health's)
    with (
        running(PrivateRedis(tmp_path / "cache")) as cache,
        running(PrivateRedis(tmp_path / "broker")) as broker,
        running(
            Gunicorn(
                tmp_path,
                production_env(static_root, REDIS_URL=cache.url,
                               CELERY_BROKER_URL=f"redis://127.0.0.1:{broker.port}/0"),
                workers=1,
            )
        ) as server,
    ):  # fmt: skip
        assert fetch(server, "/health/ready").status == 200, server.log()[-3000:]

        # When Redis stops, the probe says so, naming it, within 2 s
        cache.stop()
        started = time.monotonic()
        ready = fetch(server, "/health/ready")
        assert time.monotonic() - started < 2
        assert ready.status == 503
        checks = json.loads(ready.body)["checks"]
        assert (checks["redis"]["status"], checks["broker"]["status"]) == ("down", "ok")

        # and is ready again once it is back
        cache.start()
        assert fetch(server, "/health/ready").status == 200

        # When Redis hangs (it accepts connections and never answers), the probe still answers
        cache.process.send_signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            ready = fetch(server, "/health/ready")
            assert time.monotonic() - started < 2
        finally:
            cache.process.send_signal(signal.SIGCONT)
        assert ready.status == 503
        # (the client's own 1 s timeout, or the probe's deadline, whichever came first)
        assert json.loads(ready.body)["checks"]["redis"]["error"] in ("TimeoutError", "timed out")

        # When the broker stops, the same
        broker.stop()
        started = time.monotonic()
        ready = fetch(server, "/health/ready")
        assert time.monotonic() - started < 2
        assert ready.status == 503
        checks = json.loads(ready.body)["checks"]
        assert (checks["redis"]["status"], checks["broker"]["status"]) == ("ok", "down")
        # The live probe does not care: restarting the process would not bring a broker back.
        assert fetch(server, "/health/live").status == 200
    # No metrics files were left in the working folder (one worker: no multiprocess folder).
    assert not list(REPOSITORY.glob("*.db"))


def test_the_production_settings_pass_djangos_deployment_checks(static_root):
    """`manage.py check --deploy` under production settings: nothing to warn about (HTTPS,
    HSTS with subdomains and preload, secure cookies, no DEBUG, a real secret key)."""
    env = os.environ | production_env(
        static_root,
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="booking.example",
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPOSITORY, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout

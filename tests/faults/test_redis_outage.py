"""A Redis outage, with a real Redis that keeps its data across restarts (tests/servers.py).

What a user must never see: a slot offered after it was booked, whatever happened to Redis
(stopped and started again with its old data, hung, unreachable); a sign-in throttle that lets
everything through while Redis is down; a log that fills with a traceback per request.
"""

import os
import shutil
import signal
import time
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
import redis
import requests
from django.db import connection
from rest_framework.test import APIClient

from bookings import availability_cache
from config.cache import throttle_cache
from tests.api.conftest import bearer_client
from tests.factories import UserFactory
from tests.scenarios import ApiTenant, CarWash
from tests.servers import Gunicorn, PrivateRedis, private_redis, running  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

BREAKER_SECONDS = 0.5
NOON = "2030-01-07T12:00:00+02:00"


def redis_cache(url: str) -> dict:
    return {
        "default": {
            "BACKEND": "config.cache.CircuitBreakerRedisCache",
            "LOCATION": url,
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 0.25,
                "SOCKET_TIMEOUT": 0.25,
                "IGNORE_EXCEPTIONS": True,
                "BREAKER_SECONDS": BREAKER_SECONDS,
            },
            "KEY_PREFIX": "fault",
        }
    }


@pytest.fixture
def project_on(settings, private_redis: PrivateRedis) -> Iterator[PrivateRedis]:  # noqa: F811
    """The project's cache is the private Redis (changing CACHES drops Django's connections)."""
    settings.CACHES = redis_cache(private_redis.url)
    for fallback in (throttle_cache, availability_cache.cache):
        fallback.local.clear()
    yield private_redis
    for fallback in (throttle_cache, availability_cache.cache):
        fallback.local.clear()


@pytest.fixture
def alpha(fixed_now) -> ApiTenant:
    return ApiTenant("Alpha")


def offered(alpha: ApiTenant) -> list[str]:
    """The slots the API offers at the main location on MONDAY, answered within 5 s."""
    started = time.monotonic()
    response = bearer_client().get(
        f"/api/v1/organizations/alpha/services/{alpha.service.pk}/availability/"
        f"?location={alpha.location.pk}&date_from=2030-01-07&date_to=2030-01-07"
    )
    assert response.status_code == 200
    assert time.monotonic() - started < 5
    return [slot["starts_at"] for slot in response.json()["slots"]]


def cached_keys(server: PrivateRedis) -> list[bytes]:
    return redis.Redis(port=server.port).keys("fault:*availability*")


def break_redis(server: PrivateRedis, how: str) -> None:
    if how in ("stopped", "unreachable"):
        server.stop()  # a clean shutdown: what it holds is on disk
    else:
        os.kill(server.process.pid, signal.SIGSTOP)  # hung: connections open, nothing answers


def mend_redis(server: PrivateRedis, how: str) -> None:
    if how == "stopped":
        server.start()  # same port, same folder: it comes back with its old data
    elif how == "hung":
        os.kill(server.process.pid, signal.SIGCONT)


@pytest.mark.parametrize("how", ["stopped", "hung", "unreachable"])
def test_a_slot_booked_while_redis_is_out_is_never_offered_again(project_on, alpha, how):
    # given: the day's slots are cached in Redis, noon among them
    assert NOON in offered(alpha)
    assert offered(alpha) == offered(alpha)  # served from the cache now
    assert cached_keys(project_on)

    # when: Redis stops answering and noon is booked through the API
    break_redis(project_on, how)
    try:
        started = time.monotonic()
        booked = bearer_client(alpha.customer_user).post(
            "/api/v1/organizations/alpha/bookings/",
            {"service": alpha.service.pk, "location": alpha.location.pk, "starts_at": NOON},
        )
        assert booked.status_code == 201, booked.content
        assert time.monotonic() - started < 5
        # then: while Redis is out, the day is computed from PostgreSQL (its generation
        # changed), then kept in the process's memory, still without noon
        assert NOON not in offered(alpha)
        assert NOON not in offered(alpha)
    finally:
        mend_redis(project_on, how)
    if how == "unreachable":
        return

    # and once Redis answers again with the day cached before the booking, it is not offered
    assert cached_keys(project_on), "Redis came back without its data"
    assert NOON not in offered(alpha)  # the breaker may still be open: from PostgreSQL
    time.sleep(BREAKER_SECONDS * 1.5)
    assert NOON not in offered(alpha)  # Redis in use again
    assert NOON not in offered(alpha)  # and cached again, still without noon


def test_a_slot_booked_while_redis_was_up_stays_gone_when_redis_comes_back_older(project_on, alpha):
    """Redis restarted from an older copy of its data (a failover to a replica behind, a
    restored snapshot): the day cached before the booking is back, and still not served."""
    assert NOON in offered(alpha)
    older = project_on.directory.parent / "older"
    project_on.stop()
    shutil.copytree(project_on.directory, older)
    project_on.start()

    booked = bearer_client(alpha.customer_user).post(
        "/api/v1/organizations/alpha/bookings/",
        {"service": alpha.service.pk, "location": alpha.location.pk, "starts_at": NOON},
    )
    assert booked.status_code == 201
    assert NOON not in offered(alpha)

    project_on.stop()
    shutil.rmtree(project_on.directory)
    older.rename(project_on.directory)
    project_on.start()
    assert cached_keys(project_on)
    time.sleep(BREAKER_SECONDS * 1.5)
    assert NOON not in offered(alpha)


def test_failed_sign_ins_are_still_refused_while_redis_is_down(project_on, alpha, rates):
    rates(failed_login="3/hour")
    project_on.stop()
    client = APIClient()
    answers = [
        client.post(
            "/api/v1/auth/token/", {"email": alpha.customer_user.email, "password": "wrong"}
        ).status_code
        for _ in range(5)
    ]
    assert answers == [400, 400, 400, 429, 429]


# --- Through gunicorn: the log and the throughput of an outage ------------------------------------

READS = 300  # availability reads per phase, each phase also bounded in time
PHASE_SECONDS = 30.0
GUNICORN_WORKERS = 2


def read_loop(session: requests.Session, url: str) -> tuple[float, list[int]]:
    """Requests per second of a bounded loop of availability reads, and the statuses seen."""
    statuses = []
    started = time.monotonic()
    while len(statuses) < READS and time.monotonic() - started < PHASE_SECONDS:
        statuses.append(session.get(url, timeout=10).status_code)
    return len(statuses) / (time.monotonic() - started), statuses


def test_a_redis_outage_through_gunicorn_is_logged_once_and_barely_slows_the_site(tmp_path):
    # given: a car wash bookable from tomorrow, its week of slots read through gunicorn, and a
    # Redis that syncs its log every second as production runs it
    redis_server = PrivateRedis(tmp_path / "redis", appendfsync="everysec")
    wash = CarWash()
    user = UserFactory()
    database = connection.settings_dict
    server = Gunicorn(
        tmp_path,
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DJANGO_DEBUG": "false",
            "DATABASE_URL": (
                f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:"
                f"{database['PORT'] or 5432}/{database['NAME']}"
            ),
            "REDIS_URL": redis_server.url,
            "CACHE_KEY_PREFIX": "fault-gunicorn",
            "API_THROTTLE_ANON": "1000000/min",
            "API_THROTTLE_USER": "1000000/min",
            "API_THROTTLE_FAILED_LOGIN": "3/hour",
            "LOG_LEVEL": "INFO",
        },
        workers=GUNICORN_WORKERS,
    )
    tomorrow = date.today() + timedelta(days=1)
    url = (
        f"/api/v1/organizations/{wash.organization.slug}/services/{wash.service.pk}/availability/"
        f"?location={wash.location.pk}&date_from={tomorrow}"
        f"&date_to={tomorrow + timedelta(days=6)}"
    )
    with running(redis_server), running(server), requests.Session() as session:
        for _ in range(20):  # each day computed once and cached; both workers warmed up
            session.get(server.url + url, timeout=10)
        up, up_statuses = read_loop(session, server.url + url)

        # when: Redis stops
        redis_server.stop()
        down, down_statuses = read_loop(session, server.url + url)
        failed_logins = [
            session.post(
                server.url + "/api/v1/auth/token/",
                json={"email": user.email, "password": "wrong"},
                timeout=10,
            ).status_code
            for _ in range(4 * GUNICORN_WORKERS)
        ]

        # and comes back with its data
        redis_server.start()
        time.sleep(5.5)  # past the breaker's pause (CACHE_BREAKER_SECONDS, 5 by default)
        back, back_statuses = read_loop(session, server.url + url)

        # and hangs (each worker waits CACHE_SOCKET_TIMEOUT once per breaker pause)
        os.kill(redis_server.process.pid, signal.SIGSTOP)
        try:
            hung, hung_statuses = read_loop(session, server.url + url)
        finally:
            os.kill(redis_server.process.pid, signal.SIGCONT)
    log = server.log()

    print(
        f"\nredis outage figures: up {up:.0f} req/s, down {down:.0f} req/s "
        f"({down / up:.0%} of normal), after recovery {back:.0f} req/s, hung {hung:.0f} req/s "
        f"({hung / up:.0%}); log of both outages: {log.count('unreachable')} outage warnings, "
        f"{log.count('answers again')} "
        f"recovery lines, {log.count('Traceback')} tracebacks, {len(log.splitlines())} lines"
    )
    # then: every read was answered, during the outage too
    assert {*up_statuses, *down_statuses, *back_statuses, *hung_statuses} == {200}
    assert len(down_statuses) == len(hung_statuses) == READS  # not slowed to the time limit
    # one warning per worker that met an outage, one line when Redis answered it again
    assert 2 <= log.count("unreachable") <= 2 * GUNICORN_WORKERS
    assert 1 <= log.count("answers again") <= GUNICORN_WORKERS
    assert "Traceback" not in log
    # wrong passwords were still refused: 3 per worker at most while counted per process
    assert failed_logins.count(400) <= 3 * GUNICORN_WORKERS
    assert set(failed_logins) == {400, 429}


def test_bookings_are_still_throttled_while_redis_is_down(project_on, alpha, rates):
    rates(booking_create="2/hour")
    project_on.stop()
    client = bearer_client(alpha.customer_user)
    answers = [
        client.post(
            "/api/v1/organizations/alpha/bookings/",
            {"service": alpha.service.pk, "location": alpha.location.pk, "starts_at": starts_at},
        ).status_code
        for starts_at in ["2030-01-07T12:00:00+02:00", "2030-01-07T13:00:00+02:00"] * 2
    ]
    assert answers == [201, 201, 429, 429]

"""The API's throttles count in one Redis round trip per request, all of a view's throttles
together, as DRF counts: the requests of the last window, at most the rate, the wait until the
oldest leaves it. While Redis is down the count moves into the process
(config.cache.SharedOrLocalCache) and still refuses. A cached availability read costs one round
trip, the throttles' count, and one more for the kept answer in a process that does not hold it."""

import pytest
import redis
from django.core.cache import caches

from bookings.api import answers
from tests.servers import private_redis  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def throttled_redis(private_redis, settings, rates):  # noqa: F811
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.CircuitBreakerRedisCache",
            "LOCATION": private_redis.url,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.25, "SOCKET_TIMEOUT": 0.25,
                        "IGNORE_EXCEPTIONS": True, "BREAKER_SECONDS": 5},
            "KEY_PREFIX": "round-trips",
        }
    }  # fmt: skip
    rates(anon="3/min")
    caches["default"].clear()
    return private_redis


def commands(server) -> dict[str, int]:
    stats = redis.Redis(host="127.0.0.1", port=server.port).info("commandstats")
    return {name.removeprefix("cmdstat_"): value["calls"] for name, value in stats.items()}


# What the throttles' script runs inside Redis: counted by commandstats, but no round trip.
IN_SCRIPT = {"zremrangebyscore", "zcard", "zadd", "expire", "zrange"}


def round_trips(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """The commands clients sent between two readings (the reading's own connection left out)."""
    sent = {name: calls - before.get(name, 0) for name, calls in after.items()}
    return {
        name: calls
        for name, calls in sent.items()
        if calls and name not in IN_SCRIPT and name not in {"info", "hello", "client|setinfo"}
    }


def test_an_anonymous_read_is_counted_in_one_round_trip(throttled_redis, client, alpha):
    before = commands(throttled_redis)
    statuses = [client.get("/api/v1/organizations/alpha/").status_code for _ in range(4)]
    after = commands(throttled_redis)

    assert statuses == [200, 200, 200, 429]
    # Two throttles count an anonymous read (DRF's user throttle counts it by address too):
    # one script call for both, no read or write of a history. Besides: the kept answer
    # (bookings.api.answers) looked for in the shared cache once and stored, then found in the
    # process; the refused read asks for no answer.
    assert round_trips(before, after) == {"eval": 4, "get": 1, "set": 1}
    refused = client.get("/api/v1/organizations/alpha/")
    assert 55 < int(refused["Retry-After"]) <= 60  # until the oldest of the three leaves


def test_with_redis_stopped_the_count_moves_into_the_process(throttled_redis, client, alpha):
    assert client.get("/api/v1/organizations/alpha/").status_code == 200
    throttled_redis.stop()
    statuses = [client.get("/api/v1/organizations/alpha/").status_code for _ in range(4)]
    assert statuses[-1] == 429  # counted per process: the limit still holds


def test_a_cached_availability_read_is_one_round_trip_or_two(throttled_redis, rates, client, alpha):
    rates(anon="100/min")
    url = (
        f"/api/v1/organizations/alpha/services/{alpha.service.pk}/availability/"
        f"?location={alpha.location.pk}&date_from=2030-01-07&date_to=2030-01-13"
    )
    assert client.get(url).status_code == 200  # the days computed and cached

    before = commands(throttled_redis)
    assert client.get(url).status_code == 200
    after = commands(throttled_redis)

    # The throttles' count; the kept answer is this process's own copy (bookings.api.answers).
    assert round_trips(before, after) == {"eval": 1}

    answers.forget_all()  # another process: the answer from the shared cache
    before = commands(throttled_redis)
    assert client.get(url).status_code == 200
    assert round_trips(before, commands(throttled_redis)) == {"eval": 1, "get": 1}


def test_both_throttles_still_refuse_in_one_round_trip(throttled_redis, rates, client, alpha):
    rates(anon="100/min", user="2/min")  # DRF's user throttle counts an anonymous read too
    statuses = [client.get("/api/v1/organizations/alpha/").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]

"""The API's throttles count in one Redis round trip per request, as DRF counts: the requests of
the last window, at most the rate, the wait until the oldest leaves it. While Redis is down the
count moves into the process (config.cache.SharedOrLocalCache) and still refuses."""

import pytest
import redis
from django.core.cache import caches

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


def test_an_anonymous_read_is_counted_in_one_round_trip(throttled_redis, client, alpha):
    before = commands(throttled_redis)
    statuses = [client.get("/api/v1/organizations/alpha/").status_code for _ in range(4)]
    after = commands(throttled_redis)

    assert statuses == [200, 200, 200, 429]
    # Two throttles count an anonymous read (DRF's user throttle counts it by address too):
    # one script call each, no read or write of a history.
    assert after.get("eval", 0) - before.get("eval", 0) == 2 * 4
    assert after.get("get", 0) == before.get("get", 0)
    assert after.get("set", 0) == before.get("set", 0)
    refused = client.get("/api/v1/organizations/alpha/")
    assert 55 < int(refused["Retry-After"]) <= 60  # until the oldest of the three leaves


def test_with_redis_stopped_the_count_moves_into_the_process(throttled_redis, client, alpha):
    assert client.get("/api/v1/organizations/alpha/").status_code == 200
    throttled_redis.stop()
    statuses = [client.get("/api/v1/organizations/alpha/").status_code for _ in range(4)]
    assert statuses[-1] == 429  # counted per process: the limit still holds

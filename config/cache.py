"""The shared cache behind a circuit breaker, and the counters that must not fail open.

django-redis with IGNORE_EXCEPTIONS turns a Redis failure into a miss, but it still tries
Redis on every call: a stopped Redis costs a refused connection per call and a hung one a socket
timeout per call, and with DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS each failure writes a traceback.
`CircuitBreakerRedisCache` remembers the failure instead: after a connection error or timeout
it skips Redis for BREAKER_SECONDS (every call answers at once, as a miss or a no-op), then lets
one call try again. It logs one warning when an outage begins and one when Redis answers again.

The breaker is per process (gunicorn worker, Celery worker), per Redis location.

Every operation is timed and every failure counted for /metrics (`MeteredCacheMixin`), the
failures django-redis swallows under IGNORE_EXCEPTIONS included: the caller sees a miss, the
metric still sees the outage.

Correctness never rests on this: what the cache holds is checked against PostgreSQL
(bookings/availability_cache.py); while Redis is down, throttles count and availability is kept
in a per-process cache (`SharedOrLocalCache`) rather than letting everything through or
computing every day of every request from the database.
"""

import logging
import socket
import threading
import time
from typing import Any
from uuid import uuid4

from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django_redis.cache import RedisCache
from django_redis.exceptions import ConnectionInterrupted
from prometheus_client import Counter, Histogram
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

# Buckets from a hit (sub-millisecond) to a socket timeout.
CACHE_SECONDS = Histogram(
    "booking_cache_operation_duration_seconds",
    "Time of one cache operation, by operation.",
    ["operation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)
CACHE_ERRORS = Counter(
    "booking_cache_errors_total",
    "Cache operations that failed (Redis down, slow, or skipped by the breaker), even if ignored.",
    ["operation"],
)
METERED_OPERATIONS = (
    "get", "get_many", "set", "set_many", "add", "delete", "delete_many", "incr", "decr",
    "has_key", "touch", "clear",
)  # fmt: skip

# Failures that mean "Redis is not there" (a refused or reset connection, a timeout, a server
# still loading its data); an error in a command (WRONGTYPE...) does not open the breaker.
OUTAGE_ERRORS = (RedisConnectionError, RedisTimeoutError, socket.timeout, OSError)
# Client methods that never talk to Redis (closing at the end of a request, building keys).
PASSTHROUGH = frozenset(
    {"close", "do_close_clients", "make_key", "make_pattern", "encode", "decode"}
)


class CacheUnavailable(RedisConnectionError):
    """Raised instead of calling Redis while the breaker is open."""


class Breaker:
    """Open after a failure for `seconds`, then half-open: the next call tries Redis again."""

    def __init__(self, name: str, seconds: float):
        self.name = name
        self.seconds = seconds
        self._lock = threading.Lock()
        self.down_since: float | None = None  # time.monotonic() of the first failure
        self.retry_at = 0.0

    @property
    def down(self) -> bool:
        """Redis failed and has not answered since."""
        return self.down_since is not None

    def allows_call(self) -> bool:
        return self.down_since is None or time.monotonic() >= self.retry_at

    def failed(self, error: BaseException) -> None:
        with self._lock:
            now = time.monotonic()
            self.retry_at = now + self.seconds
            if self.down_since is None:
                self.down_since = now
                logger.warning(
                    "Cache %s unreachable (%s: %s); it is skipped, retried every %s s",
                    self.name,
                    type(error).__name__,
                    error,
                    self.seconds,
                )

    def succeeded(self) -> None:
        if self.down_since is None:
            return
        with self._lock:
            if self.down_since is not None:
                logger.warning(
                    "Cache %s answers again after %.1f s",
                    self.name,
                    time.monotonic() - self.down_since,
                )
                self.down_since = None


_breakers: dict[str, Breaker] = {}
_breakers_lock = threading.Lock()


def breaker_for(location: str, seconds: float) -> Breaker:
    """One breaker per Redis location in the process, shared by its threads' cache objects."""
    with _breakers_lock:
        if location not in _breakers:
            _breakers[location] = Breaker(location.split("@")[-1], seconds)
        return _breakers[location]


class _GuardedClient:
    """The django-redis client, with every call going through the breaker."""

    def __init__(self, client: Any, breaker: Breaker):
        self._client = client
        self._breaker = breaker

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name in PASSTHROUGH or not callable(attribute):
            return attribute
        breaker = self._breaker

        def guarded(*args, **kwargs):
            if not breaker.allows_call():
                CACHE_ERRORS.labels(name).inc()
                raise ConnectionInterrupted(connection=None) from CacheUnavailable(
                    f"the cache breaker is open ({breaker.name})"
                )
            try:
                result = attribute(*args, **kwargs)
            except ConnectionInterrupted as interrupted:
                CACHE_ERRORS.labels(name).inc()
                if isinstance(interrupted.__cause__, OUTAGE_ERRORS):
                    breaker.failed(interrupted.__cause__)
                raise
            breaker.succeeded()
            return result

        return guarded


def _metered(operation: str):
    def wrap(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return getattr(super(MeteredCacheMixin, self), operation)(*args, **kwargs)
        except Exception:
            if self.count_raised_errors:
                CACHE_ERRORS.labels(operation).inc()
            raise
        finally:
            CACHE_SECONDS.labels(operation).observe(time.perf_counter() - started)

    wrap.__name__ = operation
    return wrap


class MeteredCacheMixin:
    """Latency of each cache operation, and the operations that raised (before any backend)."""

    # A backend that sees errors before they are raised or swallowed counts them itself.
    count_raised_errors = True

    for _operation in METERED_OPERATIONS:
        locals()[_operation] = _metered(_operation)
    del _operation


class CircuitBreakerRedisCache(MeteredCacheMixin, RedisCache):
    """django-redis's cache with a breaker (OPTIONS["BREAKER_SECONDS"], default 5), metered."""

    count_raised_errors = False  # the guarded client counts them, ignored or not

    def __init__(self, server: str, params: dict[str, Any]):
        super().__init__(server, params)
        seconds = float(params.get("OPTIONS", {}).get("BREAKER_SECONDS", 5))
        self.breaker = breaker_for(server, seconds)

    @property
    def client(self):
        return _GuardedClient(super().client, self.breaker)

    def sliding_windows(
        self, windows: dict[str, tuple[float, int]], *, now: float
    ) -> dict[str, float | None]:
        """Counts one request in each window ({key: (duration, limit)}) in one round trip, as
        DRF's throttles count it (the times of the requests of the last `duration` seconds, at
        most `limit`): for each key None if it was counted, else the time of the oldest request
        in the window."""
        redis = self._redis_client()
        keys = list(windows)
        limits = [value for key in keys for value in windows[key]]
        started = time.perf_counter()
        try:
            answers = redis.eval(
                SLIDING_WINDOWS,
                len(keys),
                *(self.make_key(key) for key in keys),
                now,
                *limits,
                f"{now}:{uuid4().hex}",
            )
        except OUTAGE_ERRORS as error:
            CACHE_ERRORS.labels("sliding_windows").inc()
            self.breaker.failed(error)
            raise ConnectionInterrupted(connection=None) from error
        finally:
            CACHE_SECONDS.labels("sliding_windows").observe(time.perf_counter() - started)
        self.breaker.succeeded()
        return {
            key: None if answer == b"" else float(answer)
            for key, answer in zip(keys, answers, strict=True)
        }

    def _redis_client(self):
        """redis-py's client, refused at once while the breaker is open. Taking it talks to no
        one, so it neither closes the breaker (the guarded client would count it as an answer)
        nor opens it: the command sent with it does."""
        if not self.breaker.allows_call():
            CACHE_ERRORS.labels("sliding_windows").inc()
            raise ConnectionInterrupted(connection=None) from CacheUnavailable(
                f"the cache breaker is open ({self.breaker.name})"
            )
        return super().client.get_client(write=True)


# The requests of each window are a sorted set scored by time: drop those at or before its start
# (DRF drops the same), refuse when full (answer the oldest), else add this one (answer "").
# ARGV: now, then a duration and a limit per key, then the request's member.
SLIDING_WINDOWS = """
local now = tonumber(ARGV[1])
local answers = {}
for i, key in ipairs(KEYS) do
  local duration, limit = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - duration)
  if redis.call('ZCARD', key) >= limit then
    answers[i] = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2]
  else
    redis.call('ZADD', key, now, ARGV[#ARGV])
    redis.call('EXPIRE', key, math.ceil(duration))
    answers[i] = ''
  end
end
return answers
"""


def cache_down(cache: Any) -> bool:
    """Whether this cache is a breaker-guarded Redis that failed and has not answered since."""
    breaker = getattr(cache, "breaker", None)
    return breaker is not None and breaker.down


def cache_skipped(cache: Any) -> bool:
    """Whether a call to this cache would be skipped now (its breaker open, not yet retrying)."""
    breaker = getattr(cache, "breaker", None)
    return breaker is not None and not breaker.allows_call()


_MISSING = object()


class SharedOrLocalCache:
    """The shared cache, or while it is down a per-process one (a LocMemCache of that name).

    For what may be counted or kept per process for the length of an outage: throttle
    histories (a throttle that reads an empty history when Redis is down lets everything
    through: it would fail open) and availability (whose keys carry PostgreSQL's generations,
    so a per-process copy is exactly as fresh as a shared one).
    """

    def __init__(self, local_name: str, *, max_entries: int, alias: str = "default"):
        self.alias = alias
        self.local = LocMemCache(local_name, {"OPTIONS": {"MAX_ENTRIES": max_entries}})

    def get(self, key: str, default: Any = None) -> Any:
        shared = caches[self.alias]
        if not cache_skipped(shared):
            value = shared.get(key, _MISSING)
            if not cache_down(shared):
                return default if value is _MISSING else value
        return self.local.get(key, default)

    def set(self, key: str, value: Any, timeout: float | None = None) -> None:
        shared = caches[self.alias]
        if not cache_skipped(shared):
            shared.set(key, value, timeout)
            if not cache_down(shared):
                return
        self.local.set(key, value, timeout)

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        shared = caches[self.alias]
        if not cache_skipped(shared):
            found = shared.get_many(keys)
            if not cache_down(shared):
                return found
        return self.local.get_many(keys)

    def set_many(self, values: dict[str, Any], timeout: float | None = None) -> None:
        shared = caches[self.alias]
        if not cache_skipped(shared):
            shared.set_many(values, timeout)
            if not cache_down(shared):
                return
        self.local.set_many(values, timeout)


throttle_cache = SharedOrLocalCache("throttle-fallback", max_entries=10_000)

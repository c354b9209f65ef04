"""Cache backends that time every operation and count the failures (config/operations/metrics.py).

`MeteredCacheMixin` goes in front of any Django cache backend; `MeteredRedisCache` is
django-redis's backend with it, and also counts the errors django-redis swallows under
IGNORE_EXCEPTIONS (the caller then sees a miss, the metric still sees the failure). A backend
with more behaviour of its own (a circuit breaker) subclasses `MeteredRedisCache` or puts the
mixin first in its bases.
"""

import time
from functools import wraps

from django_redis.cache import RedisCache
from django_redis.exceptions import ConnectionInterrupted

from config.operations.metrics import CACHE_ERRORS, CACHE_SECONDS

METERED_OPERATIONS = (
    "get", "get_many", "set", "set_many", "add", "delete", "delete_many", "incr", "decr",
    "has_key", "touch", "clear",
)  # fmt: skip


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
    """Latency of each cache operation, and the operations that raised."""

    # A subclass that sees errors before they are raised (or swallowed) counts them itself.
    count_raised_errors = True

    for _operation in METERED_OPERATIONS:
        locals()[_operation] = _metered(_operation)
    del _operation


class _ErrorCountingClient:
    """django-redis's client, counting each ConnectionInterrupted on its way to `omit_exception`."""

    def __init__(self, client):
        self._client = client

    def __getattr__(self, name: str):
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        @wraps(attribute)
        def call(*args, **kwargs):
            try:
                return attribute(*args, **kwargs)
            except ConnectionInterrupted:
                CACHE_ERRORS.labels(name).inc()
                raise

        return call


class MeteredRedisCache(MeteredCacheMixin, RedisCache):
    count_raised_errors = False  # the client proxy has counted them, ignored or not

    @property
    def client(self):
        return _ErrorCountingClient(super().client)

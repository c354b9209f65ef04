"""DRF's throttles counting in `config.cache.throttle_cache`: in Redis, shared by every process,
or in the process itself while Redis is down, so a limit never fails open.

The customer pages' anonymous forms (the booking's last step, the lookup by code and email) are
counted by the same throttle, per address (`page_wait`), with their own rates.
"""

import math

from django.core.cache import caches
from django.http import HttpRequest
from django_redis.exceptions import ConnectionInterrupted
from rest_framework import throttling

from config.cache import cache_skipped, throttle_cache


class SimpleRateThrottle(throttling.SimpleRateThrottle):
    cache = throttle_cache


class WindowInRedis(SimpleRateThrottle):
    """DRF's count in one Redis round trip (`CircuitBreakerRedisCache.sliding_window`) instead
    of a read and a write of the whole history: the throttles every API request passes. Without
    Redis, or while it is down, DRF's own count in `throttle_cache`."""

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        shared = caches["default"]
        if not hasattr(shared, "sliding_window") or cache_skipped(shared):
            return super().allow_request(request, view)
        self.now = self.timer()
        try:
            oldest = shared.sliding_window(
                f"{self.key}:window", now=self.now, duration=self.duration, limit=self.num_requests
            )
        except ConnectionInterrupted:
            return super().allow_request(request, view)
        if oldest is None:
            return True
        self.history = [oldest] * self.num_requests  # what DRF's wait() reads of a full window
        return self.throttle_failure()


class AnonRateThrottle(throttling.AnonRateThrottle, WindowInRedis):
    pass


class UserRateThrottle(throttling.UserRateThrottle, WindowInRedis):
    pass


class ScopedRateThrottle(throttling.ScopedRateThrottle, WindowInRedis):
    pass


class PageThrottle(WindowInRedis):
    """A page form's attempts per client address, at REST_FRAMEWORK's rate for `scope`."""

    def __init__(self, scope: str):
        self.scope = scope
        super().__init__()

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def page_wait(request: HttpRequest, scope: str) -> int | None:
    """Counts one attempt; None if allowed, else the whole seconds to wait before the next."""
    throttle = PageThrottle(scope)
    if throttle.allow_request(request, None):
        return None
    return max(1, math.ceil(throttle.wait() or 1))

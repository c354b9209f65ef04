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


def client_address(request: HttpRequest) -> str:
    """The client's address as every throttle reads it (REST_FRAMEWORK's NUM_PROXIES decides
    whether X-Forwarded-For is believed): the admin's lockout and the audit trail read it here
    too, so none of them disagree about who is asking."""
    return throttling.BaseThrottle().get_ident(request)


class SimpleRateThrottle(throttling.SimpleRateThrottle):
    cache = throttle_cache


class WindowInRedis(SimpleRateThrottle):
    """DRF's count in Redis (`CircuitBreakerRedisCache.sliding_windows`) instead of a read and a
    write of the whole history: the throttles every API request passes. The first of a view's
    throttles counts the request in all of their windows in one round trip and leaves the
    others their answers on the request (an anonymous read passes two: DRF's user throttle
    counts it by address too). Without Redis, or while it is down, DRF's own count in
    `throttle_cache`."""

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        shared = caches["default"]
        if not hasattr(shared, "sliding_windows") or cache_skipped(shared):
            return super().allow_request(request, view)
        self.now = self.timer()
        try:
            oldest = self._count(shared, request, view)
        except ConnectionInterrupted:
            return super().allow_request(request, view)
        if oldest is None:
            return True
        self.history = [oldest] * self.num_requests  # what DRF's wait() reads of a full window
        return self.throttle_failure()

    def _count(self, shared, request, view) -> float | None:
        """This window's answer: counted with the view's other throttles' on the first call."""
        window = f"{self.key}:window"
        counted = getattr(request, "_counted_windows", {})
        if window not in counted:
            windows = {window: (self.duration, self.num_requests)}
            for throttle in view.get_throttles() if view is not None else ():
                other = (
                    throttle.window(request, view) if isinstance(throttle, WindowInRedis) else None
                )
                if other is not None:
                    windows.setdefault(other[0], other[1])
            counted = shared.sliding_windows(windows, now=self.now)
            if view is not None:
                request._counted_windows = counted
        return counted.pop(window)

    def window(self, request, view) -> tuple[str, tuple[float, int]] | None:
        """This throttle's window for the request, or None if it does not count it."""
        if self.rate is None or (key := self.get_cache_key(request, view)) is None:
            return None
        return f"{key}:window", (self.duration, self.num_requests)


class AnonRateThrottle(throttling.AnonRateThrottle, WindowInRedis):
    pass


class UserRateThrottle(throttling.UserRateThrottle, WindowInRedis):
    pass


class ScopedRateThrottle(throttling.ScopedRateThrottle, WindowInRedis):
    def window(self, request, view) -> tuple[str, tuple[float, int]] | None:
        # DRF learns the scope and its rate in allow_request; a window asked for first needs them.
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return None
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().window(request, view)


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

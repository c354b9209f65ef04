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
        self.now = self.timer()
        window = f"{self.key}:window"
        counted = getattr(request, "_counted_windows", {})
        if window not in counted:
            shared = caches["default"]
            if not hasattr(shared, "sliding_windows") or cache_skipped(shared):
                return super().allow_request(request, view)
            windows = {window: (self.duration, self.num_requests)}
            if view is not None:
                windows |= {key: limit for key, limit in windows_of(view, request).items()
                            if key not in windows}  # fmt: skip
            try:
                counted = shared.sliding_windows(windows, now=self.now)
            except ConnectionInterrupted:
                return super().allow_request(request, view)
            if view is not None:
                request._counted_windows = counted
        oldest = counted.pop(window)
        if oldest is None:
            return True
        self.history = [oldest] * self.num_requests  # what DRF's wait() reads of a full window
        return self.throttle_failure()

    def window(self, request, view) -> tuple[str, tuple[float, int]] | None:
        """This throttle's window for the request, or None if it does not count it."""
        if self.rate is None or (key := self.get_cache_key(request, view)) is None:
            return None
        return f"{key}:window", (self.duration, self.num_requests)


def windows_of(view, request) -> dict[str, tuple[float, int]]:
    """The windows the view's throttles count `request` in: {key: (duration, limit)}."""
    windows: dict[str, tuple[float, int]] = {}
    for throttle in view.get_throttles():
        window = throttle.window(request, view) if isinstance(throttle, WindowInRedis) else None
        if window is not None:
            windows.setdefault(*window)
    return windows


def count_ahead_of_drf(request: HttpRequest, view, asking) -> bool:
    """Counts `request` against the view's throttles before DRF runs (bookings.api.answers
    serves some answers without it), as DRF would: `asking` is what they key it by (a user and
    the request's META and headers). The answers stay on the request, so DRF, if it runs, reads
    them instead of counting again. False if a throttle refuses it."""
    throttles = view.get_throttles()
    if not all(isinstance(throttle, WindowInRedis) for throttle in throttles):
        return False  # a throttle that counts its own way: DRF alone counts
    answers: dict[str, float | None] = {}
    for throttle in throttles:
        allowed = throttle.allow_request(asking, view)
        key = getattr(throttle, "key", None) if getattr(throttle, "rate", None) else None
        if key is not None:  # it counted the request
            answers[f"{key}:window"] = None if allowed else throttle.history[-1]
    request._counted_windows = answers
    return all(oldest is None for oldest in answers.values())


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

"""DRF's throttles counting in `config.cache.throttle_cache`: in Redis, shared by every process,
or in the process itself while Redis is down, so a limit never fails open.

The customer pages' anonymous forms (the booking's last step, the lookup by code and email) are
counted by the same throttle, per address (`page_wait`), with their own rates.
"""

import math

from django.http import HttpRequest
from rest_framework import throttling

from config.cache import throttle_cache


class SimpleRateThrottle(throttling.SimpleRateThrottle):
    cache = throttle_cache


class AnonRateThrottle(throttling.AnonRateThrottle):
    cache = throttle_cache


class UserRateThrottle(throttling.UserRateThrottle):
    cache = throttle_cache


class ScopedRateThrottle(throttling.ScopedRateThrottle):
    cache = throttle_cache


class PageThrottle(throttling.SimpleRateThrottle):
    """A page form's attempts per client address, at REST_FRAMEWORK's rate for `scope`."""

    cache = throttle_cache

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

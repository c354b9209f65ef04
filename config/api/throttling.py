"""DRF's throttles counting in `config.cache.throttle_cache`: in Redis, shared by every process,
or in the process itself while Redis is down, so a limit never fails open."""

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

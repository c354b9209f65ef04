"""Availability in the cache, invalidated by versioned keys, never by scanning keys.

A cached day of slots is keyed by two version numbers: the organization's reference data
(services, resources, hours, closures) and the location's local day (what is occupied). A change
bumps the version it affects (bookings/signals.py, after the transaction commits), so readers of
the old key simply stop finding it and the stale entry expires on its own. A missing version is
created from the clock, so an evicted counter can never bring an old entry back.

When the cache is unreachable (django-redis ignores and logs the error), versions read as
missing, nothing is cached, and availability is computed from the database.
"""

import time
from collections.abc import Callable, Iterable
from datetime import date

from django.core.cache import cache

from accounts.models import Location
from bookings.metrics import AVAILABILITY_CACHE

VALUE_TIMEOUT = 60 * 60  # an hour; correctness comes from the versions, not from expiry
VERSION_TIMEOUT = None  # versions never expire on their own


def _reference_key(organization_id: int) -> str:
    return f"availability:reference:{organization_id}"


def _day_key(location_id: int, day: date) -> str:
    return f"availability:day:{location_id}:{day.isoformat()}"


def _versions(keys: list[str]) -> dict[str, int] | None:
    """Current versions of these keys, created where missing; None if the cache is unreachable."""
    found = cache.get_many(keys)
    for key in keys:
        if key not in found:
            cache.add(key, time.time_ns(), timeout=VERSION_TIMEOUT)
    if len(found) < len(keys):
        found = cache.get_many(keys)
    return found if len(found) == len(keys) else None


def cached_days(
    *,
    namespace: str,
    location: Location,
    days: list[date],
    compute: Callable[[list[date]], dict[date, object]],
    use_cache: bool = True,
) -> dict[date, object]:
    """Per-day values at a location, from the cache where fresh; the missing days are computed
    in one call to `compute` (all of them with use_cache=False, or when the cache is down)."""
    if not use_cache:
        return compute(days)
    reference = _reference_key(location.organization_id)
    day_keys = {day: _day_key(location.pk, day) for day in days}
    versions = _versions([reference, *day_keys.values()])
    if versions is None:
        AVAILABILITY_CACHE.labels("bypass").inc(len(days))
        return compute(days)

    value_keys = {
        day: f"availability:{namespace}:{day.isoformat()}:r{versions[reference]}"
        f":d{versions[day_keys[day]]}"
        for day in days
    }
    found = cache.get_many(list(value_keys.values()))
    result = {day: found[key] for day, key in value_keys.items() if key in found}
    missing = [day for day in days if day not in result]
    AVAILABILITY_CACHE.labels("hit").inc(len(result))
    AVAILABILITY_CACHE.labels("miss").inc(len(missing))
    if missing:
        computed = compute(missing)
        cache.set_many({value_keys[day]: computed[day] for day in missing}, timeout=VALUE_TIMEOUT)
        result.update(computed)
    return result


def _bump(key: str) -> None:
    # incr is atomic in Redis; a missing key is (re)created from the clock instead.
    try:
        cache.incr(key)
    except ValueError:
        cache.add(key, time.time_ns(), timeout=VERSION_TIMEOUT)


def invalidate_reference_data(organization_id: int) -> None:
    """Services, resources, opening hours or closures of the organization changed."""
    _bump(_reference_key(organization_id))


def invalidate_days(location_id: int, days: Iterable[date]) -> None:
    """Something was booked or freed at the location on these local days."""
    for day in days:
        _bump(_day_key(location_id, day))

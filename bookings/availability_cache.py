"""Availability in the cache, keyed by generations that PostgreSQL keeps.

A cached day of slots is keyed by two generations: the organization's reference data (services,
resources, cars, prices, hours, closures) and the location's local day (what is occupied). Both
live in PostgreSQL (bookings.models.availability) and are bumped by triggers in the transaction
that makes the change (migration 0014), so a change and its bump commit together. A reader reads
the generations first and the cache second: once a booking has committed, every later reader
asks for a key no one has written yet and computes the day from the database, whatever Redis
holds (an old copy restored after a restart, a write that never arrived while it was down).

The cost of a cached read: one SQL query for the generations (index lookups in two small
tables) and one cache round trip (get_many); a miss adds the computation and one set_many. With
Redis unreachable (config.cache's breaker open), the days are kept in the process's own memory
under the same keys until Redis answers again.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from django.db import connection

from accounts.models import Location
from bookings.metrics import AVAILABILITY_CACHE
from config.cache import SharedOrLocalCache

VALUE_TIMEOUT = 60 * 60  # an hour; correctness comes from the generations, not from expiry
# Redis, or while it is down this process's memory: the keys carry the generations either way.
cache = SharedOrLocalCache("availability-fallback", max_entries=2_000)

_GENERATIONS = """
SELECT NULL::date, generation FROM bookings_referencegeneration WHERE organization_id = %s
UNION ALL
SELECT day, generation FROM bookings_daygeneration
WHERE location_id = %s AND day BETWEEN %s AND %s
"""


@dataclass(frozen=True)
class Generations:
    """What a cached day of a location is keyed by: the organization's reference generation
    and each day's own (0 for what never changed)."""

    reference: int
    days: dict[date, int]


def generations(*, organization_id: int, location_id: int, days: list[date]) -> Generations:
    """The reference generation and the days' generations, in one query. A caller that needs
    the reference data too (bookings.reference_cache) reads it at this reference generation."""
    with connection.cursor() as cursor:
        cursor.execute(_GENERATIONS, [organization_id, location_id, min(days), max(days)])
        rows = cursor.fetchall()
    reference = next((generation for day, generation in rows if day is None), 0)
    by_day = {day: generation for day, generation in rows if day is not None}
    return Generations(reference, {day: by_day.get(day, 0) for day in days})


def cached_days(
    *,
    namespace: str,
    location: Location,
    days: list[date],
    compute: Callable[[list[date]], dict[date, object]],
    use_cache: bool = True,
    known: Generations | None = None,
) -> dict[date, object]:
    """Per-day values at a location, from the cache where fresh; the missing days are computed
    in one call to `compute` (all of them with use_cache=False). `known`: the generations the
    caller has just read for these days, so they are not read twice."""
    if not use_cache or not days:
        return compute(days)
    if known is None:
        known = generations(
            organization_id=location.organization_id, location_id=location.pk, days=days
        )
    value_keys = {
        day: f"availability:{namespace}:{day.isoformat()}:r{known.reference}:d{known.days[day]}"
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

"""The durable half of the availability cache: how often what it is computed from has changed.

Rows are written by PostgreSQL triggers (migration 0014), in the transaction that changes an
occupancy or the organization's reference data, so a change and its generation commit together
or not at all, whatever happens to Redis. Readers put the generations in the cache key
(bookings/availability_cache.py): a committed change makes the old entry unreachable.
"""

from django.db import models


class DayGeneration(models.Model):
    """Changes of what is occupied at a location on a local day (and the days beside it)."""

    # Plain ids, no foreign keys: the rows are bookkeeping, written by triggers even while a
    # location is being deleted, and an orphan row is harmless.
    location_id = models.BigIntegerField()
    day = models.DateField()
    generation = models.BigIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["location_id", "day"], name="day_generation_unique")
        ]

    def __str__(self) -> str:
        return f"location {self.location_id} {self.day}: {self.generation}"


class ReferenceGeneration(models.Model):
    """Changes of an organization's services, resources, cars, prices, hours and closures."""

    organization_id = models.BigIntegerField(unique=True)
    generation = models.BigIntegerField(default=1)

    def __str__(self) -> str:
        return f"organization {self.organization_id}: {self.generation}"

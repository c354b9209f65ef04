"""The reporting tables, the days waiting to be recomputed, and the record of each refresh.

The three figure tables are filled by SQL from analytics/figures.py, never by the ORM, and made
by migrations (analytics/migrations 0005), so their models are unmanaged. Each holds only the
local days before its last refresh (its `as_of`); the days from then to today come live from the
bookings table, so a dashboard is never a day behind and no day is counted twice.

They derive from TenantModel like every tenant-owned model: the same scoped manager guards them,
accounts.roles narrows them by location for managers, and the organization wall of row-level
security stands on them as on every tenant table.
"""

from django.contrib.postgres.fields import ArrayField
from django.db import models

from accounts.models import Location, TenantModel
from bookings.models import Service
from fleet.models import Resource


class LocationDay(TenantModel):
    """One location's bookings on one local day."""

    pk = models.CompositePrimaryKey("location_id", "day")
    location = models.ForeignKey(Location, on_delete=models.DO_NOTHING, related_name="+")
    day = models.DateField()
    created = models.PositiveIntegerField(help_text="Bookings made on this day.")
    taking_place = models.PositiveIntegerField(
        help_text="Bookings (not cancelled, not no-shows) that occupy any part of this day."
    )
    completed = models.PositiveIntegerField(help_text="Bookings starting this day, completed.")
    cancelled = models.PositiveIntegerField(help_text="Bookings starting this day, cancelled.")
    no_shows = models.PositiveIntegerField(help_text="Bookings starting this day, no-shows.")
    paid_bookings = models.PositiveIntegerField(
        help_text="Bookings starting this day that kept money: payments above their refunds."
    )
    revenue = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        help_text="Payments less refunds of the bookings starting this day, whatever their status.",
    )
    average_booking_value = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, help_text="Revenue per paid booking."
    )
    unique_customers = models.PositiveIntegerField()
    customer_ids = ArrayField(
        models.BigIntegerField(), help_text="Customers of the bookings taking place."
    )

    tenant_location_path = "location"

    class Meta:
        managed = False
        db_table = "analytics_location_day"


class ResourceDay(TenantModel):
    """One resource's booked minutes within its location's open minutes on one local day."""

    pk = models.CompositePrimaryKey("resource_id", "day")
    location = models.ForeignKey(Location, on_delete=models.DO_NOTHING, related_name="+")
    resource = models.ForeignKey(Resource, on_delete=models.DO_NOTHING, related_name="+")
    day = models.DateField()
    open_minutes = models.PositiveIntegerField()
    booked_minutes = models.PositiveIntegerField(help_text="Only the minutes inside open hours.")

    tenant_location_path = "location"

    class Meta:
        managed = False
        db_table = "analytics_resource_day"


class OfferingMonth(TenantModel):
    """Bookings and revenue of one service on one resource (a car, a bay) in one local month."""

    pk = models.CompositePrimaryKey("location_id", "service_id", "resource_id", "month")
    location = models.ForeignKey(Location, on_delete=models.DO_NOTHING, related_name="+")
    service = models.ForeignKey(Service, on_delete=models.DO_NOTHING, related_name="+")
    resource = models.ForeignKey(Resource, on_delete=models.DO_NOTHING, related_name="+")
    month = models.DateField(help_text="The first day of the month.")
    bookings = models.PositiveIntegerField(help_text="Not cancelled, not no-shows.")
    revenue = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        help_text="Payments less refunds of the bookings starting in the month, any status.",
    )

    tenant_location_path = "location"

    class Meta:
        managed = False
        db_table = "analytics_offering_month"


class ReportView(models.TextChoices):
    """The reports, by the names of their tables."""

    LOCATION_DAY = LocationDay._meta.db_table, "Bookings per location and day"
    RESOURCE_DAY = ResourceDay._meta.db_table, "Utilization per resource and day"
    OFFERING_MONTH = OfferingMonth._meta.db_table, "Bookings per service or car and month"


class TouchedDay(models.Model):
    """A location's local day whose figures a write has made stale since they were computed.

    Marked by triggers on bookings and payments in the writing transaction (analytics
    migration 0005), a row per writing statement and day, never unique (a write must not wait
    for another's mark); read and deleted by the update that recomputes the day
    (analytics.services.figures_update). Like bookings.DayGeneration it names no organization:
    it holds no tenant's data, only which days to look at again.
    """

    location_id = models.BigIntegerField()
    day = models.DateField()

    class Meta:
        db_table = "analytics_touched_day"
        indexes = [models.Index(fields=["location_id", "day"], name="touched_day_by_location")]

    def __str__(self) -> str:
        return f"location {self.location_id}, {self.day}"


class ViewRefresh(models.Model):
    """The last successful refresh of one table, written in the refresh's own transaction."""

    view = models.CharField(max_length=63, choices=ReportView.choices, primary_key=True)
    as_of = models.DateTimeField(help_text="The table holds the local days before this instant's.")
    duration = models.DurationField()
    refresh_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["view"]

    def __str__(self) -> str:
        return f"{self.view} as of {self.as_of:%Y-%m-%d %H:%M} UTC"

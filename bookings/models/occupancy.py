"""The time a resource is taken, and what takes it besides bookings (maintenance, blocks).

The no-double-booking guarantee lives here: every active booking and every maintenance window
owns one Occupancy row, and an exclusion constraint refuses two overlapping rows on one
resource. Maintenance lives beside Occupancy, not in fleet, because it is written through the
same constraint by the same services (bookings.services.maintenance).
"""

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import RangeOperators
from django.db import models
from django.db.models import F, Q

from accounts.models import TenantModel, User
from bookings.models.booking import Booking, OccupancyRange
from fleet.models import Resource


class BlockKind(models.TextChoices):
    MAINTENANCE = "maintenance", "Out of service"
    BLOCKED = "blocked", "Blocked time"


class Maintenance(TenantModel):
    """A period a resource takes no bookings: a bay out of order (maintenance) or a staff
    member's blocked time (lunch, a day off). It holds the resource exactly as a booking would.

    A weekly block is written as one row per week, sharing a `series`, so each occurrence is
    claimed through the same constraint as any booking.
    """

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="maintenance")
    kind = models.CharField(max_length=12, choices=BlockKind.choices, default=BlockKind.MAINTENANCE)
    series = models.UUIDField(null=True, blank=True, editable=False, db_index=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200)
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    tenant_location_path = "resource__location"
    tenant_owner_path = "resource__membership__user"

    class Meta:
        ordering = ["-starts_at"]
        verbose_name = "blocked time"
        verbose_name_plural = "blocked time and maintenance"
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_at__lt=models.F("ends_at")),
                name="maintenance_starts_before_it_ends",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.resource}: {self.reason}"


class Occupancy(TenantModel):
    """The time a resource is taken, by one booking (buffers included) or one maintenance window."""

    resource = models.ForeignKey(
        Resource, on_delete=models.CASCADE, related_name="occupancies", db_index=False
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    booking = models.OneToOneField(
        Booking, on_delete=models.CASCADE, null=True, blank=True, related_name="occupancy"
    )
    maintenance = models.OneToOneField(
        Maintenance, on_delete=models.CASCADE, null=True, blank=True, related_name="occupancy"
    )

    tenant_location_path = "resource__location"

    class Meta:
        verbose_name_plural = "occupancies"
        # Availability asks "what of these resources ends after the window starts": bounded by
        # ends_at, the scan skips the past; starts_at is included for an index-only scan.
        indexes = [
            models.Index(
                fields=["resource", "ends_at"],
                include=["starts_at"],
                name="occupancy_resource_window",
            ),
        ]
        constraints = [
            ExclusionConstraint(
                name="occupancy_no_overlap_per_resource",
                expressions=[
                    (
                        OccupancyRange(F("resource_id"), F("starts_at"), F("ends_at")),
                        RangeOperators.OVERLAPS,
                    )
                ],
                violation_error_message="The resource is already taken for this period.",
            ),
            models.CheckConstraint(
                condition=Q(starts_at__lt=F("ends_at")), name="occupancy_starts_before_it_ends"
            ),
            models.CheckConstraint(
                condition=Q(booking__isnull=True, maintenance__isnull=False)
                | Q(booking__isnull=False, maintenance__isnull=True),
                name="occupancy_has_one_owner",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.resource} {self.starts_at:%Y-%m-%d %H:%M}-{self.ends_at:%H:%M} UTC"

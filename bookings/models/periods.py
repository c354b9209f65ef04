"""Bookings and occupancies by period: the reads that must stay bounded by the GiST indexes.

Under row security PostgreSQL evaluates a policy's condition before any condition of the query
that is not leakproof, and the range overlap (`&&`) is not, so on the tables themselves the
GiST period indexes cannot drive a scan: "today's bookings" would read the organization's whole
history. These two models read views (made by config.row_security with the policies) that
apply the same wall in their own WHERE: owned by the tables' owner, they are not bound by the
policy, so the planner may use the period index, and the view hands back only the rows of the
scope's organizations (or every row where the policy would not bind the reader either).

Read-only, and only a period's ids and times: the full rows are read from the tables, by id,
under the policy.
"""

from django.db import models
from django_scopes import ScopedManager

from accounts.models import Organization
from bookings.models.booking import Booking
from bookings.models.occupancy import Occupancy


class WalledPeriod(models.Model):
    """A view of a tenant table's period columns that applies the organization wall itself."""

    # The table this is a view of (config.row_security.walled_views makes the view).
    view_of: str

    organization = models.ForeignKey(
        Organization, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()

    objects = ScopedManager(organization="organization")

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.starts_at.isoformat()} to {self.ends_at.isoformat()}"


class BookingPeriod(WalledPeriod):
    """Where and when a booking takes place, and when it was made (the live slice's OR)."""

    view_of = Booking._meta.db_table

    id = models.BigIntegerField(primary_key=True)
    location_id = models.BigIntegerField()
    created_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "bookings_booking_period"


class OccupancyPeriod(WalledPeriod):
    """When a resource is taken."""

    view_of = Occupancy._meta.db_table

    id = models.BigIntegerField(primary_key=True)
    resource_id = models.BigIntegerField()

    class Meta:
        managed = False
        db_table = "bookings_occupancy_period"

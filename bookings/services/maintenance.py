"""Taking a resource out of service: its time is claimed through the same constraint as a
booking's, so maintenance and bookings can never overlap."""

from datetime import datetime

from django.db import transaction

from accounts.models import User
from bookings.errors import SlotUnavailable
from bookings.models import Maintenance
from bookings.services.occupancy import occupy
from fleet.models import Resource


@transaction.atomic
def maintenance_schedule(
    *, actor: User | None, resource: Resource, starts_at: datetime, ends_at: datetime, reason: str
) -> Maintenance:
    """Take a resource out of service; refused if a booking already holds part of that time."""
    maintenance = Maintenance.objects.create(
        organization_id=resource.organization_id,
        resource=resource,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=reason,
        created_by=actor,
    )
    if not occupy(resource=resource, starts_at=starts_at, ends_at=ends_at, maintenance=maintenance):
        raise SlotUnavailable(
            f"{resource} is booked during this period; move those bookings first."
        )
    return maintenance

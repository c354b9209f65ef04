"""Taking a resource's time: a bay out of order, a barber's lunch or day off.

Each period is claimed through the same exclusion constraint as a booking's, so blocked time and
bookings can never overlap. A block over bookings is refused whole, naming them, so staff know
whom to move first.
"""

import uuid
from datetime import datetime, timedelta

from django.db import transaction

from accounts.models import User
from bookings.errors import InvalidBookingRequest, SlotUnavailable
from bookings.models import BlockKind, Booking, Maintenance
from bookings.policy import HOLDING_STATUSES
from bookings.services.occupancy import occupy
from config.api.fields import wall_clock_instant
from fleet.models import Resource

MAX_WEEKS = 52


def _weekly(starts_at: datetime, ends_at: datetime, weeks: int, zone) -> list[tuple]:
    """The same wall-clock period on `weeks` consecutive weeks: a lunch at 12:00 stays at 12:00
    local time across a daylight-saving change. A week whose time the clocks skip is refused
    rather than moved by an hour."""
    local_start, local_end = starts_at.astimezone(zone), ends_at.astimezone(zone)
    periods = []
    for week in range(weeks):
        shift = timedelta(days=7 * week)
        try:
            start = wall_clock_instant(
                local_start.date() + shift, local_start.time().replace(tzinfo=None), zone
            )
            end = wall_clock_instant(
                local_end.date() + shift, local_end.time().replace(tzinfo=None), zone
            )
        except ValueError as error:
            raise InvalidBookingRequest(f"Week {week + 1}: {error}", field="weeks") from error
        periods.append((start, end))
    return periods


def bookings_in_the_way(resource: Resource, periods: list[tuple]) -> list[Booking]:
    """The bookings that hold part of any of these periods on the resource."""
    clashes = Booking.objects.none()
    for starts_at, ends_at in periods:
        clashes |= Booking.objects.filter(
            resource=resource,
            status__in=HOLDING_STATUSES,
            starts_at__lt=ends_at,
            ends_at__gt=starts_at,
        )
    return list(clashes.select_related("customer").order_by("starts_at"))


def _refusal(resource: Resource, clashes: list[Booking]) -> SlotUnavailable:
    zone = resource.location.time_zone
    listed = ", ".join(
        f"{b.code} ({b.starts_at.astimezone(zone):%a %d %b %H:%M}, {b.customer.full_name})"
        for b in clashes
    )
    return SlotUnavailable(
        f"{resource} is booked during this time: {listed}. Move those bookings first.",
        bookings=[b.code for b in clashes],
    )


@transaction.atomic
def time_block_create(
    *,
    actor: User | None,
    resource: Resource,
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
    kind: str = BlockKind.MAINTENANCE,
    weeks: int = 1,
) -> list[Maintenance]:
    """Block a resource for a period, or for the same period on `weeks` consecutive weeks.

    Refused whole (nothing written) if any booking holds part of that time.
    """
    if starts_at >= ends_at:
        raise InvalidBookingRequest("The block must end after it starts.", field="ends_at")
    if not 1 <= weeks <= MAX_WEEKS:
        raise InvalidBookingRequest(f"Repeat on 1 to {MAX_WEEKS} weeks.", field="weeks")
    periods = _weekly(starts_at, ends_at, weeks, resource.location.time_zone)
    if clashes := bookings_in_the_way(resource, periods):
        raise _refusal(resource, clashes)
    series = uuid.uuid4() if weeks > 1 else None
    blocks = []
    for start, end in periods:
        block = Maintenance.objects.create(
            organization_id=resource.organization_id,
            resource=resource,
            kind=kind,
            series=series,
            starts_at=start,
            ends_at=end,
            reason=reason,
            created_by=actor,
        )
        if not occupy(resource=resource, starts_at=start, ends_at=end, maintenance=block):
            # A booking or another block arrived since the check: the constraint decided.
            clashes = bookings_in_the_way(resource, [(start, end)])
            if clashes:
                raise _refusal(resource, clashes)
            raise SlotUnavailable(f"{resource} is already blocked during this time.")
        blocks.append(block)
    return blocks

"""Claiming a resource's time: the one place that writes Occupancy rows.

PostgreSQL decides, not Python: the exclusion constraint `occupancy_no_overlap_per_resource`
refuses an overlapping row, and these functions try each insert in a savepoint so a refusal
rolls back only that attempt and the caller may try the next free resource.

Claims of one resource's time take turns (`_claim_turn`). Two transactions inserting
overlapping rows at the same moment each find the other's uncommitted row while checking the
constraint and each waits for the other: PostgreSQL breaks that cycle with a deadlock error (3
of 753 racing API bookings answered 500 that way). Taking a per-resource advisory lock before
the insert makes the second claimant wait for the first to finish, then see its committed row
and move on to the next resource. The lock is taken inside the attempt's savepoint, so a
refused attempt gives it back at once: a transaction holds at most the turn of the one resource
it is claiming, and no cycle of waits can form. A claim for "any resource" first tries without
waiting (`wait=False`), so racing customers spread over the free resources instead of queueing
for the first one.
"""

import secrets
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from psycopg.errors import ExclusionViolation, UniqueViolation

from bookings.models import Booking, Occupancy
from fleet.models import Resource

# Letters and digits that cannot be mistaken for each other when read aloud or copied by hand.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8


def new_confirmation_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _is_overlap(error: IntegrityError) -> bool:
    return isinstance(error.__cause__, ExclusionViolation)


# The advisory lock space of resource claims (analytics' view refreshes use 7301).
CLAIM_LOCK_SPACE = 7302


def _claim_turn(resource: Resource, *, wait: bool) -> bool:
    """This resource's turn, held to the end of the transaction (or savepoint): waited for, or
    without `wait` taken only if free (False if another transaction has it)."""
    function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
    with connection.cursor() as cursor:
        # Two int4 keys: the space, and the id folded into int4 (a shared turn is only a wait).
        cursor.execute(
            f"SELECT {function}(%s, (%s %% 2147483647)::int)", [CLAIM_LOCK_SPACE, resource.pk]
        )
        return wait or cursor.fetchone()[0]


def occupy(
    *, resource: Resource, starts_at: datetime, ends_at: datetime, wait: bool = True, **owner
) -> bool | None:
    """Claim the resource's time in a savepoint; False if PostgreSQL says it is taken; None,
    without `wait`, if another transaction is claiming this resource right now."""
    try:
        with transaction.atomic():
            if not _claim_turn(resource, wait=wait):
                return None
            Occupancy.objects.create(
                organization_id=resource.organization_id,
                resource=resource,
                starts_at=starts_at,
                ends_at=ends_at,
                **owner,
            )
    except IntegrityError as error:
        if _is_overlap(error):
            return False
        raise
    return True


def save_with_occupancy(booking: Booking, *, wait: bool = True) -> bool | None:
    """Insert a new booking and its occupancy together; False (nothing written) if it is taken,
    None (nothing written) if, without `wait`, another transaction is claiming the resource.

    A clash of confirmation codes (1 in 10^12 per pair) is answered with a fresh code.
    """
    for _attempt in range(3):
        try:
            with transaction.atomic():
                booking.save(force_insert=True)
                occupied_from, occupied_to = occupied_period(booking)
                claimed = occupy(
                    resource=booking.resource,
                    starts_at=occupied_from,
                    ends_at=occupied_to,
                    wait=wait,
                    booking=booking,
                )
                if not claimed:
                    raise _Taken(claimed)
            return True
        except _Taken as taken:
            booking.pk = None
            return taken.claimed
        except IntegrityError as error:
            cause = error.__cause__
            if not (
                isinstance(cause, UniqueViolation)
                and cause.diag.constraint_name.endswith("_code_key")
            ):
                raise
            booking.pk, booking.code = None, new_confirmation_code()
    raise RuntimeError("Could not draw a free confirmation code.")


class _Taken(Exception):
    """Rolls back the booking's savepoint when its occupancy is refused (False) or busy (None)."""

    def __init__(self, claimed: bool | None) -> None:
        super().__init__(claimed)
        self.claimed = claimed


def occupied_period(booking: Booking) -> tuple[datetime, datetime]:
    """The resource is taken for the booking plus the service's buffers."""
    service = booking.service
    return (
        booking.starts_at - timedelta(minutes=service.buffer_before_minutes),
        booking.ends_at + timedelta(minutes=service.buffer_after_minutes),
    )

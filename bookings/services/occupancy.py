"""Claiming a resource's time: the one place that writes Occupancy rows.

PostgreSQL decides, not Python: the exclusion constraint `occupancy_no_overlap_per_resource`
refuses an overlapping row, and a refused claim writes nothing, so the caller may try the next
free resource in the same transaction.

Claims of one resource's time take turns (`_claim_turn`). Two transactions inserting
overlapping rows at the same moment each find the other's uncommitted row while checking the
constraint and each waits for the other: PostgreSQL breaks that cycle with a deadlock error (3
of 753 racing API bookings answered 500 that way). Taking a per-resource advisory lock before
the insert makes the second claimant wait for the first to finish, then see its committed row
and move on to the next resource. A claim for "any resource" first tries without waiting
(`wait=False`), so racing customers spread over the free resources instead of queueing for the
first one.

Two ways to claim, for two costs:
* `booking_insert` (a new booking, the hot path): one statement writes the occupancy with
  `INSERT ... ON CONFLICT DO NOTHING` (PostgreSQL's speculative insertion, which waits for an
  uncommitted claim it meets instead of deadlocking with it) and, from what it returned, the
  booking, its timeline entry and its email. A refusal writes nothing, so no savepoint is
  needed, and the turn is only taken when no committed claim is in the way;
* `occupy` (a reschedule, a maintenance window: rarer, several rows): a plain insert in a
  savepoint, the turn taken inside it, so a refused attempt gives the turn back at once.
"""

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, models, transaction
from psycopg.errors import ExclusionViolation

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


def booking_insert(
    booking: Booking, *, followers: Sequence[models.Model] = (), wait: bool = True
) -> bool | None:
    """Insert a new booking, its occupancy and the rows that come with it (`followers`: its
    timeline entry, its email, each with a `booking` foreign key) in one statement; False
    (nothing written) if the time is taken, None (nothing written) if, without `wait`, another
    transaction is claiming the resource right now.

    One round trip and no savepoint: the occupancy is inserted with `ON CONFLICT DO NOTHING`,
    so a refusal by the exclusion constraint writes nothing and leaves the transaction usable,
    and the booking and its followers are inserted from what that insert returned. The turn
    (`_claim_turn`) is only taken when no committed claim is in the way, so a refused attempt
    holds none; a waiting attempt takes no turn and waits, in the insert, for the transaction
    whose claim it meets. A clash of confirmation codes (1 in 10^12 per pair) takes its
    occupancy back and is tried again with a fresh code.
    """
    occupied_from, occupied_to = occupied_period(booking)
    for _attempt in range(3):
        sql, params = _booking_insert_statement(
            booking, followers, occupied_from, occupied_to, wait=wait
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            mine, claimed_id, booking_id, *follower_ids = cursor.fetchone()
            if mine is False:
                return None  # another transaction holds this resource's turn
            if claimed_id is None:
                return False  # a claim is in the way (committed, or just committing)
            if booking_id is None:  # the code was drawn before
                cursor.execute(
                    f"DELETE FROM {_table(Occupancy)} WHERE booking_id = %s", [claimed_id]
                )
                booking.code = new_confirmation_code()
                continue
        for row, row_id in zip((booking, *followers), (booking_id, *follower_ids), strict=True):
            row.pk = row_id
            row._state.adding, row._state.db = False, connection.alias
        for row in followers:
            row.booking = booking
        return True
    raise RuntimeError("Could not draw a free confirmation code.")


def _table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _insert_from(
    name: str,
    row: models.Model,
    *,
    source: str,
    source_column: str,
    link: str,
    on_conflict: str = "",
) -> tuple[str, list]:
    """`name AS (INSERT INTO <row's table> ... SELECT ... FROM source RETURNING id)`: the row's
    values as Django would save them (its fields' own conversions), its `link` column taken
    from `source_column`."""
    quote = connection.ops.quote_name
    columns, values, params = [quote(link)], [f"{source}.{source_column}"], []
    for field in row._meta.concrete_fields:
        if field.primary_key or field.column == link:
            continue
        columns.append(quote(field.column))
        values.append(f"%s::{field.cast_db_type(connection)}")
        params.append(field.get_db_prep_save(field.pre_save(row, True), connection))
    pk = quote(row._meta.pk.column)
    return (
        f"{name} AS (INSERT INTO {_table(type(row))} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM {source} {on_conflict} RETURNING {pk} AS id)",
        params,
    )


def _booking_insert_statement(
    booking: Booking,
    followers: Sequence[models.Model],
    occupied_from: datetime,
    occupied_to: datetime,
    *,
    wait: bool,
) -> tuple[str, list]:
    resource_id = booking.resource_id
    turn, turn_params = ("true", []) if wait else (_TRY_TURN, [CLAIM_LOCK_SPACE, resource_id])
    params: list = [resource_id, occupied_to, occupied_from, *turn_params]
    params += [booking.organization_id, resource_id, occupied_from, occupied_to]
    booking_row, booking_params = _insert_from(
        "new_booking",
        booking,
        source="claim",
        source_column="booking_id",
        link="id",
        # A drawn code already in use inserts nothing here (its occupancy is taken back).
        on_conflict="ON CONFLICT (code) DO NOTHING",
    )
    params += booking_params
    ctes = [booking_row]
    for number, row in enumerate(followers):
        cte, cte_params = _insert_from(
            f"follower_{number}", row, source="new_booking", source_column="id", link="booking_id"
        )
        ctes.append(cte)
        params += cte_params
    occupancy = _table(Occupancy)
    sql = f"""
        WITH turn AS (
            SELECT CASE WHEN EXISTS (
                SELECT 1 FROM {occupancy}
                WHERE resource_id = %s AND starts_at < %s AND ends_at > %s
            ) THEN NULL ELSE {turn} END AS mine
        ), claim AS (
            INSERT INTO {occupancy} (organization_id, resource_id, starts_at, ends_at, booking_id)
            SELECT %s, %s, %s, %s, nextval(pg_get_serial_sequence('{Booking._meta.db_table}', 'id'))
            FROM turn WHERE turn.mine
            ON CONFLICT DO NOTHING
            RETURNING booking_id
        ), {", ".join(ctes)}
        SELECT turn.mine, (SELECT booking_id FROM claim), (SELECT id FROM new_booking)
            {"".join(f", (SELECT id FROM follower_{n})" for n in range(len(followers)))}
        FROM turn
    """
    return sql, params


_TRY_TURN = "pg_try_advisory_xact_lock(%s, (%s %% 2147483647)::int)"


def occupied_period(booking: Booking) -> tuple[datetime, datetime]:
    """The resource is taken for the booking plus the service's buffers."""
    service = booking.service
    return (
        booking.starts_at - timedelta(minutes=service.buffer_before_minutes),
        booking.ends_at + timedelta(minutes=service.buffer_after_minutes),
    )

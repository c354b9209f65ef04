"""Bringing the figure tables up to date: a whole table rebuilt, or only the days that changed.

Both run platform-wide (a table covers every organization, and only its owner writes it), in
one transaction each, under an advisory lock per table, and record what they did
(ViewRefresh): readers see the new rows only with their new as_of, which is where the live slice
starts (analytics/figures.py). Readers are never blocked: they read the old rows until commit.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import F
from django.utils import timezone

from analytics.figures import touched_definitions, view_definitions
from analytics.models import LocationDay, OfferingMonth, ReportView, ResourceDay, ViewRefresh
from config.database import task_statement_budget
from config.row_security import platform_wide

# The first key of the two-key advisory locks this app takes (the second is the table's hash),
# so they cannot collide with another app's one-key locks.
REFRESH_LOCK_CLASS = 7_301
# A refresh may run longer than a request's statement timeout (DATABASE_STATEMENT_TIMEOUT); it
# runs in a task or a command, so it gets the task's soft time limit instead.
REFRESH_STATEMENT_BUDGET_SECONDS = 240
COLUMNS = {
    model._meta.db_table: ", ".join(field.column for field in model._meta.concrete_fields)
    for model in (LocationDay, ResourceDay, OfferingMonth)
}

# The touched days that are now past (before as_of's local day), taken off the list in the
# update's transaction (a write committing later marks its days again), with the days that
# became past since the earliest table's as_of. A mark whose location is gone goes too.
CLAIM_DAYS = """
WITH claimed AS (
    DELETE FROM analytics_touched_day t
    WHERE coalesce(t.day < (
        SELECT (%(as_of)s::timestamptz AT TIME ZONE l.time_zone)::date
        FROM accounts_location l WHERE l.id = t.location_id
    ), TRUE)
    RETURNING t.location_id, t.day
),
passed AS (
    SELECT l.id, passed_day::date
    FROM accounts_location l
    CROSS JOIN LATERAL generate_series(
        (%(since)s::timestamptz AT TIME ZONE l.time_zone)::date::timestamp,
        ((%(as_of)s::timestamptz AT TIME ZONE l.time_zone)::date - 1)::timestamp,
        interval '1 day'
    ) AS passed_day
)
SELECT coalesce(array_agg(location_id ORDER BY location_id, day), '{}'),
    coalesce(array_agg(day ORDER BY location_id, day), '{}')
FROM (SELECT location_id, day FROM claimed UNION SELECT * FROM passed) AS days
"""


# The utilization calendar of a location starts on its first booking's local day: when a write
# moved that day (a booking back-dated before it, the first one moved or deleted), the days
# between where the table starts and where the calendar now starts are recomputed too (to
# as_of's day). Returns the touched days with those, sorted and each once.
CALENDAR_MOVED = """
WITH moved AS (
    SELECT l.id AS location_id, moved_day::date AS day
    FROM accounts_location l
    CROSS JOIN LATERAL (
        SELECT min(day) AS first_day, max(day) + 1 AS end_day
        FROM analytics_resource_day r WHERE r.location_id = l.id
    ) held
    CROSS JOIN LATERAL (
        SELECT (min(b.starts_at) AT TIME ZONE l.time_zone)::date AS first_day
        FROM bookings_booking b WHERE b.location_id = l.id
    ) booked
    CROSS JOIN LATERAL (
        SELECT (%(as_of)s::timestamptz AT TIME ZONE l.time_zone)::date AS day
    ) cutoff
    CROSS JOIN LATERAL generate_series(
        least(held.first_day, booked.first_day)::timestamp,
        (least(
            greatest(
                coalesce(held.first_day, cutoff.day), coalesce(booked.first_day, held.end_day)
            ),
            cutoff.day
        ) - 1)::timestamp,
        interval '1 day'
    ) AS moved_day
    WHERE l.id = ANY(%(location_ids)s) AND held.first_day IS DISTINCT FROM booked.first_day
)
SELECT coalesce(array_agg(location_id ORDER BY location_id, day), '{}'),
    coalesce(array_agg(day ORDER BY location_id, day), '{}')
FROM (
    SELECT * FROM unnest(%(location_ids)s::bigint[], %(days)s::date[]) AS touched(location_id, day)
    UNION
    SELECT location_id, day FROM moved
) AS days
"""


# The marks of days not yet past wait for their day, and every write adds its own: one of each
# day is enough (a day is recomputed once however many writes marked it). The statement sees
# only committed marks, so the one it keeps is as committed as those it deletes.
FORGET_REPEATED_MARKS = """
DELETE FROM analytics_touched_day repeated
USING analytics_touched_day earlier
WHERE earlier.location_id = repeated.location_id AND earlier.day = repeated.day
    AND earlier.id < repeated.id
"""


@dataclass(frozen=True)
class FiguresUpdate:
    """What one update did: as of when, how many local days of a location it recomputed."""

    as_of: datetime
    days: int
    duration: timedelta


def table_rebuild(*, view: ReportView) -> ViewRefresh | None:
    """Rebuild one table whole, or return None at once if another worker is writing it.

    The full rebuild: every day of every organization from the bookings as they are. It also
    picks up what the touched days do not follow (opening hours, closures, resources, a
    location's time zone). A second rebuild asked for meanwhile would compute the same rows,
    so it is skipped rather than queued.
    """
    as_of = timezone.now()
    started = time.monotonic()
    with _writing(f"analytics rebuild of {view}", [view]) as cursor:
        if cursor is None:
            return None
        _set_as_of(cursor, as_of)
        _rebuild(cursor, view)
        return _record([view], as_of, started)[0]


def figures_update() -> FiguresUpdate | None:
    """Recompute, in every table, the days writes have touched and the days that became past
    since the last refresh; None at once if another refresh or update is running.

    This is what beat runs every few minutes: its cost follows what changed, not the size of
    the history (docs/performance.md). A table without a record (a new or flushed database)
    cannot say which days it holds, so it is rebuilt whole.
    """
    started = time.monotonic()
    with _writing("analytics update of the touched days", ReportView.values) as cursor:
        if cursor is None:
            return None
        # Read under the locks: a rebuild or update that committed just before is the start.
        refreshes = {refresh.view: refresh for refresh in ViewRefresh.objects.all()}
        # A clock a little behind the last refresh's must not hand back days the tables hold.
        as_of = max([timezone.now(), *(refresh.as_of for refresh in refreshes.values())])
        since = min((refresh.as_of for refresh in refreshes.values()), default=as_of)
        _set_as_of(cursor, as_of)
        cursor.execute(CLAIM_DAYS, {"as_of": as_of, "since": since})
        location_ids, days = cursor.fetchone()
        cursor.execute(FORGET_REPEATED_MARKS)
        touched = {"location_ids": location_ids, "days": days}
        cursor.execute(CALENDAR_MOVED, touched | {"as_of": as_of})
        calendar_ids, calendar_days = cursor.fetchone()
        for view, (stale, slice_ids, figures) in touched_definitions().items():
            days_of = touched
            if view == ReportView.RESOURCE_DAY:
                days_of = {"location_ids": calendar_ids, "days": calendar_days}
            if view not in refreshes:
                _rebuild(cursor, view)
            elif days_of["days"]:
                cursor.execute(slice_ids, days_of)
                (slice_found,) = cursor.fetchone()
                cursor.execute(f"DELETE FROM {view} WHERE {stale}", days_of)
                cursor.execute(_insert(view, figures), days_of | {"slice": slice_found})
        _record(ReportView.values, as_of, started)
        return FiguresUpdate(
            as_of=as_of, days=len(days), duration=timedelta(seconds=time.monotonic() - started)
        )


@contextmanager
def _writing(reason: str, views: list[str]) -> Iterator[CursorWrapper | None]:
    """Platform-wide, one durable transaction holding the tables' locks; yields its cursor, or
    None if another worker holds one of the locks."""
    with (
        platform_wide(f"{reason}: every organization's rows"),
        # Durable: inside a caller's transaction the locks and records would outlive this.
        transaction.atomic(durable=True),
        task_statement_budget(REFRESH_STATEMENT_BUDGET_SECONDS),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "SELECT bool_and(pg_try_advisory_xact_lock(%s, hashtext(view)))"
            " FROM unnest(%s::text[]) AS view",
            [REFRESH_LOCK_CLASS, views],
        )
        yield cursor if cursor.fetchone()[0] else None


def _set_as_of(cursor: CursorWrapper, as_of: datetime) -> None:
    """The instant the templates split the days at (`analytics_as_of()`), for this transaction."""
    cursor.execute("SELECT set_config('analytics.as_of', %s, true)", [as_of.isoformat()])


def _insert(view: str, figures: str) -> str:
    return f"INSERT INTO {view} ({COLUMNS[view]}) SELECT {COLUMNS[view]} FROM ({figures}) figures"


def _rebuild(cursor: CursorWrapper, view: str) -> None:
    cursor.execute(f"DELETE FROM {view}")
    cursor.execute(_insert(view, view_definitions()[view]))
    # Every row is new: the planner's statistics too, or the dashboard's reads may scan.
    cursor.execute(f"ANALYZE {view}")


def _record(views: list[str], as_of: datetime, started: float) -> list[ViewRefresh]:
    duration = timedelta(seconds=time.monotonic() - started)
    updated = ViewRefresh.objects.filter(view__in=views).update(
        as_of=as_of, duration=duration, refresh_count=F("refresh_count") + 1
    )
    if updated < len(views):
        ViewRefresh.objects.bulk_create(
            [ViewRefresh(view=v, as_of=as_of, duration=duration, refresh_count=1) for v in views],
            ignore_conflicts=True,
        )
    return list(ViewRefresh.objects.filter(view__in=views))

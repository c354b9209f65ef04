"""The SQL that turns bookings into figures, written once for the tables, their updates and the
live slice.

Each query has two holes: `$bookings`, which bookings to read, and `$days`, which local days to
keep. A full rebuild fills the tables (analytics/migrations/0005) from these templates with
"every booking" and "the days before `analytics_as_of()`", the instant the refresh runs at; an
update with "the bookings around the touched days" and "the touched days". The live slice fills
them with "these locations' bookings around today" and "the days from the table's as_of to
today", so a table and the live slice never both count a day, and together they miss none
(tests/analytics/test_figures.py compares the two on the same bookings).

A day is always the location's local calendar day, so a booking from 23:30 to 00:30 takes place on
two days and a three-day rental on three; its outcome and revenue belong to the day it starts.

Revenue is money kept: the net of a booking's payments less its refunds (bookings.Payment),
whatever its status, so a cancelled booking's kept deposit is revenue and a refunded payment is
not. A payment taken today for a booking of today shows at once (the live slice reads the rows);
one taken for an earlier day's booking shows in that day once the views are refreshed.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from string import Template
from typing import Any

from django.db import connection

from accounts.models import Location

# Statuses that did not take place; their time was given back (bookings.models).
NOT_KEPT = "('cancelled', 'no_show')"
# What booking `b` kept: its payments less its refunds, read through the index on booking_id
# (one probe per booking of the slice, never the whole payments table for the live slice).
NET_PAID = """(SELECT coalesce(sum(CASE p.kind WHEN 'refund' THEN -p.amount ELSE p.amount END), 0)
            FROM bookings_payment p WHERE p.booking_id = b.id)"""


def occupied_days(tz: str) -> str:
    """Every local day booking `b` occupies; one ending at midnight does not touch the next."""
    return f"""generate_series(
        (b.starts_at AT TIME ZONE {tz})::date::timestamp,
        ((b.ends_at AT TIME ZONE {tz}) - interval '1 microsecond')::date::timestamp,
        interval '1 day'
    ) AS occupied(day)"""


LOCATION_DAY = Template(f"""
WITH booking AS (
    SELECT b.organization_id, b.location_id, b.customer_id, b.status, b.starts_at, b.ends_at,
        b.created_at, l.time_zone AS tz,
        {NET_PAID} AS paid
    FROM bookings_booking b
    JOIN accounts_location l ON l.id = b.location_id
    WHERE $bookings
),
fact AS (
    SELECT organization_id, location_id, tz, (created_at AT TIME ZONE tz)::date AS day,
        'created' AS kind, status, paid, customer_id
    FROM booking
    UNION ALL
    SELECT organization_id, location_id, tz, (starts_at AT TIME ZONE tz)::date,
        'starts', status, paid, customer_id
    FROM booking
    UNION ALL
    SELECT b.organization_id, b.location_id, b.tz, occupied.day::date,
        'occupies', b.status, b.paid, b.customer_id
    FROM booking b
    CROSS JOIN LATERAL {occupied_days("b.tz")}
    WHERE b.status NOT IN {NOT_KEPT}
),
figures AS (
    SELECT organization_id, location_id, day,
        count(*) FILTER (WHERE kind = 'created') AS created,
        count(*) FILTER (WHERE kind = 'occupies') AS taking_place,
        count(*) FILTER (WHERE kind = 'starts' AND status = 'completed') AS completed,
        count(*) FILTER (WHERE kind = 'starts' AND status = 'cancelled') AS cancelled,
        count(*) FILTER (WHERE kind = 'starts' AND status = 'no_show') AS no_shows,
        count(*) FILTER (WHERE kind = 'starts' AND paid > 0) AS paid_bookings,
        coalesce(sum(paid) FILTER (WHERE kind = 'starts'), 0) AS revenue,
        coalesce(
            array_agg(DISTINCT customer_id) FILTER (WHERE kind = 'occupies'), '{{}}'
        ) AS customer_ids
    FROM fact
    WHERE $days
    GROUP BY organization_id, location_id, day
)
SELECT figures.*,
    round(revenue / nullif(paid_bookings, 0), 2) AS average_booking_value,
    cardinality(customer_ids) AS unique_customers
FROM figures
""")

# Open minutes are the opening hours less closures, as real instants (a DST day has one hour
# more or less); booked minutes are the kept bookings' time inside them, so a car out for a
# whole day fills the day exactly and no resource ever goes over 100%. `hours` is MATERIALIZED:
# computed once per location and day, not once per resource (a third of the refresh time).
RESOURCE_DAY = Template(f"""
WITH calendar AS (
    $calendar
),
hours AS MATERIALIZED (
    SELECT calendar.location_id, calendar.day,
        coalesce((
            SELECT range_agg(tstzrange(
                (calendar.day + oh.opens_at) AT TIME ZONE calendar.tz,
                (calendar.day + oh.closes_at
                    + CASE WHEN oh.closes_at = time '00:00'
                        THEN interval '1 day' ELSE interval '0' END
                ) AT TIME ZONE calendar.tz
            ))
            FROM bookings_openinghours oh
            WHERE oh.location_id = calendar.location_id
                AND oh.weekday = extract(isodow FROM calendar.day) - 1
        ), '{{}}'::tstzmultirange)
        - coalesce((
            SELECT range_agg(tstzrange(
                (calendar.day + coalesce(c.starts_at, time '00:00')) AT TIME ZONE calendar.tz,
                coalesce(calendar.day + c.ends_at, calendar.day + interval '1 day')
                    AT TIME ZONE calendar.tz
            ))
            FROM bookings_closure c
            WHERE c.organization_id = calendar.organization_id
                AND (c.location_id IS NULL OR c.location_id = calendar.location_id)
                AND calendar.day BETWEEN c.first_day AND c.last_day
        ), '{{}}'::tstzmultirange) AS open_hours
    FROM calendar
),
booked AS (
    SELECT b.resource_id, occupied.day::date AS day,
        range_agg(tstzrange(b.starts_at, b.ends_at)) AS periods
    FROM bookings_booking b
    JOIN accounts_location l ON l.id = b.location_id
    CROSS JOIN LATERAL {occupied_days("l.time_zone")}
    WHERE b.status NOT IN {NOT_KEPT} AND $bookings
    GROUP BY b.resource_id, occupied.day
)
SELECT r.organization_id, r.location_id, r.id AS resource_id, hours.day,
    analytics_minutes(hours.open_hours) AS open_minutes,
    analytics_minutes(
        hours.open_hours * coalesce(booked.periods, '{{}}'::tstzmultirange)
    ) AS booked_minutes
FROM fleet_resource r
JOIN hours ON hours.location_id = r.location_id
LEFT JOIN booked ON booked.resource_id = r.id AND booked.day = hours.day
""")

OFFERING_MONTH = Template(f"""
SELECT organization_id, location_id, service_id, resource_id,
    date_trunc('month', day)::date AS month,
    count(*) FILTER (WHERE status NOT IN {NOT_KEPT}) AS bookings,
    coalesce(sum(paid), 0) AS revenue
FROM (
    SELECT b.organization_id, b.location_id, b.service_id, b.resource_id, b.status,
        l.time_zone AS tz, (b.starts_at AT TIME ZONE l.time_zone)::date AS day,
        {NET_PAID} AS paid
    FROM bookings_booking b
    JOIN accounts_location l ON l.id = b.location_id
    WHERE $bookings
) booking
WHERE $days
GROUP BY organization_id, location_id, service_id, resource_id, date_trunc('month', day)
""")

# The holes as the views fill them.
VIEW_DAYS = "day < (analytics_as_of() AT TIME ZONE tz)::date"
VIEW_CALENDAR = """SELECT l.organization_id, l.id AS location_id, l.time_zone AS tz,
        calendar_day::date AS day
    FROM accounts_location l
    JOIN (
        SELECT location_id, min(starts_at) AS first_start
        FROM bookings_booking GROUP BY location_id
    ) first_booking ON first_booking.location_id = l.id
    CROSS JOIN LATERAL generate_series(
        (first_start AT TIME ZONE l.time_zone)::date::timestamp,
        ((analytics_as_of() AT TIME ZONE l.time_zone)::date - 1)::timestamp,
        interval '1 day'
    ) AS calendar_day"""

# The holes as the live slice fills them: the bookings of these locations overlapping the days
# or made in them. Their ids are found first, through booking_location_period and
# booking_location_made in the walled view (bookings.models.periods: so the indexes serve under
# row security), and the bookings then read by primary key (docs/analytics.md shows the plans).
LIVE_DAYS = """day BETWEEN (%(as_of)s::timestamptz AT TIME ZONE tz)::date
        AND (%(now)s::timestamptz AT TIME ZONE tz)::date"""
LIVE_SLICE = "b.id = ANY(%(slice)s::bigint[])"
SLICE_IDS = """SELECT coalesce(array_agg(p.id), '{{}}') FROM bookings_booking_period p
    WHERE {condition}"""
OVERLAPPING = """occupancy_range(p.location_id, p.starts_at, p.ends_at)
        && ANY(analytics_location_periods(%(locations)s::bigint[], %(since)s, %(until)s))"""
OVERLAPPING_OR_CREATED = f"""({OVERLAPPING})
        OR (p.location_id = ANY(%(locations)s)
            AND p.created_at >= %(since)s AND p.created_at < %(until)s)"""
# Like the views' calendar, a location's days begin with its first booking (one index probe).
LIVE_CALENDAR = """SELECT l.organization_id, l.id AS location_id, l.time_zone AS tz,
        calendar_day::date AS day
    FROM accounts_location l
    CROSS JOIN LATERAL (
        SELECT min(b.starts_at) AS first_start FROM bookings_booking b WHERE b.location_id = l.id
    ) first_booking
    CROSS JOIN LATERAL generate_series(
        greatest(
            (%(as_of)s::timestamptz AT TIME ZONE l.time_zone)::date,
            (first_start AT TIME ZONE l.time_zone)::date
        )::timestamp,
        (%(now)s::timestamptz AT TIME ZONE l.time_zone)::date::timestamp,
        interval '1 day'
    ) AS calendar_day
    WHERE l.id = ANY(%(locations)s) AND first_start IS NOT NULL"""


# The holes as an update fills them (analytics.services.figures_update): the touched local
# days, as two arrays (locations, days), and the bookings that may count in them: those whose
# time overlaps a touched day or month (the GiST index booking_location_period, one probe per
# period) and those made on a touched day (booking_location_made). Run by the owner, so the
# indexes serve without the walled views.
TOUCHED = "unnest(%(location_ids)s::bigint[], %(days)s::date[]) AS touched(location_id, day)"
TOUCHED_DAYS = f"(location_id, day) IN (SELECT location_id, day FROM {TOUCHED})"
TOUCHED_MONTH_ROWS = f"""(location_id, month) IN (
        SELECT location_id, date_trunc('month', day)::date FROM {TOUCHED}
    )"""
TOUCHED_CALENDAR = f"""SELECT l.organization_id, l.id AS location_id, l.time_zone AS tz, touched.day
    FROM {TOUCHED}
    JOIN accounts_location l ON l.id = touched.location_id
    CROSS JOIN LATERAL (
        SELECT min(b.starts_at) AS first_start FROM bookings_booking b WHERE b.location_id = l.id
    ) first_booking
    WHERE touched.day >= (first_start AT TIME ZONE l.time_zone)::date"""
# The ids are found first and passed to the figures as values (LIVE_SLICE), as for the live
# slice: given the subquery, the planner reads the whole bookings table to join it.
TOUCHED_PERIODS = Template(f"""WITH period AS MATERIALIZED (
        SELECT DISTINCT touched.location_id,
            date_trunc('$unit', touched.day::timestamp) AT TIME ZONE l.time_zone AS since,
            -- The current month's days after as_of are not the table's: left unread.
            least(
                (date_trunc('$unit', touched.day::timestamp) + interval '1 $unit')
                    AT TIME ZONE l.time_zone,
                analytics_as_of()
            ) AS until
        FROM {TOUCHED} JOIN accounts_location l ON l.id = touched.location_id
    )""")
OVERLAPPING_PERIODS = """SELECT b.id FROM bookings_booking b
        WHERE occupancy_range(b.location_id, b.starts_at, b.ends_at) && ANY(ARRAY(
            SELECT occupancy_range(location_id, since, until) FROM period
        ))"""
# Each period is one probe of an index on (location_id, column): booking_location_made,
# booking_location_day. OFFSET 0 keeps the subquery lateral (run per period); pulled up into a
# join, the planner, blind to how narrow a period is, scans the whole table instead.
IN_PERIODS = Template("""SELECT found.id FROM period CROSS JOIN LATERAL (
            SELECT b.id FROM bookings_booking b
            WHERE b.location_id = period.location_id
                AND b.$column >= period.since AND b.$column < period.until
            OFFSET 0
        ) found""")
MADE_IN_PERIODS = IN_PERIODS.substitute(column="created_at")
STARTING_IN_PERIODS = IN_PERIODS.substitute(column="starts_at")


def touched_slice(unit: str, *arms: str) -> str:
    """The ids of the bookings the arms find around the touched days' `unit`s (day, month)."""
    union = "\n        UNION ALL\n        ".join(arms)
    return f"""{TOUCHED_PERIODS.substitute(unit=unit)}
    SELECT coalesce(array_agg(DISTINCT id), '{{}}') FROM (
        {union}
    ) slice"""


def view_definitions() -> dict[str, str]:
    """The SELECT of each table's every row, by table name (what migration 0002 was made from,
    and what a full rebuild inserts)."""
    return {
        "analytics_location_day": LOCATION_DAY.substitute(bookings="TRUE", days=VIEW_DAYS),
        "analytics_resource_day": RESOURCE_DAY.substitute(calendar=VIEW_CALENDAR, bookings="TRUE"),
        "analytics_offering_month": OFFERING_MONTH.substitute(bookings="TRUE", days=VIEW_DAYS),
    }


def touched_definitions() -> dict[str, tuple[str, str, str]]:
    """By table: which of its rows the touched days make stale (a WHERE), the ids of the
    bookings that count in them (`slice`), and the SELECT of their new rows."""
    return {
        "analytics_location_day": (
            TOUCHED_DAYS,
            touched_slice("day", OVERLAPPING_PERIODS, MADE_IN_PERIODS),
            LOCATION_DAY.substitute(bookings=LIVE_SLICE, days=TOUCHED_DAYS),
        ),
        "analytics_resource_day": (
            TOUCHED_DAYS,
            touched_slice("day", OVERLAPPING_PERIODS),
            RESOURCE_DAY.substitute(calendar=TOUCHED_CALENDAR, bookings=LIVE_SLICE),
        ),
        # A month's row sums its days: every touched month is recomputed whole, from exactly
        # the bookings starting in it.
        "analytics_offering_month": (
            TOUCHED_MONTH_ROWS,
            touched_slice("month", STARTING_IN_PERIODS),
            OFFERING_MONTH.substitute(bookings=LIVE_SLICE, days=VIEW_DAYS),
        ),
    }


@dataclass(frozen=True)
class LiveWindow:
    """The local days from a view's as_of to today at some locations, as instants to read."""

    locations: list[Location]
    as_of: datetime
    now: datetime

    @property
    def params(self) -> dict[str, Any]:
        def local_midnight(instant: datetime, location: Location, days: int = 0) -> datetime:
            day: date = instant.astimezone(location.time_zone).date() + timedelta(days=days)
            return datetime.combine(day, datetime.min.time(), tzinfo=location.time_zone)

        return {
            "locations": [location.pk for location in self.locations],
            "as_of": self.as_of,
            "now": self.now,
            "since": min(local_midnight(self.as_of, location) for location in self.locations),
            "until": max(local_midnight(self.now, location, 1) for location in self.locations),
        }


def _rows(sql: str, window: LiveWindow, slice_condition: str) -> list[dict[str, Any]]:
    if not window.locations:
        return []
    params = window.params
    with connection.cursor() as cursor:
        cursor.execute(SLICE_IDS.format(condition=slice_condition), params)
        (params["slice"],) = cursor.fetchone()
        cursor.execute(sql, params)
        columns = [column.name for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def live_location_days(window: LiveWindow) -> list[dict[str, Any]]:
    """analytics_location_day's rows for the window's days, computed from the bookings now."""
    sql = LOCATION_DAY.substitute(bookings=LIVE_SLICE, days=LIVE_DAYS)
    return _rows(sql, window, OVERLAPPING_OR_CREATED)


def live_resource_days(window: LiveWindow) -> list[dict[str, Any]]:
    """analytics_resource_day's rows for the window's days, computed from the bookings now."""
    sql = RESOURCE_DAY.substitute(calendar=LIVE_CALENDAR, bookings=LIVE_SLICE)
    return _rows(sql, window, OVERLAPPING)


def live_offering_months(window: LiveWindow) -> list[dict[str, Any]]:
    """analytics_offering_month's rows for the window's days, computed from the bookings now."""
    sql = OFFERING_MONTH.substitute(bookings=LIVE_SLICE, days=LIVE_DAYS)
    return _rows(sql, window, OVERLAPPING)

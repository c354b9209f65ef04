"""The reporting views, made from analytics/figures.py's templates on the day they were written.

The SQL is frozen here, as a migration must be: changing a view means a new migration with the new
definition. The unique index of each view is what lets `REFRESH ... CONCURRENTLY` run (readers are
never blocked); the other indexes serve the dashboard's reads, which always name the locations.
"""

from django.db import migrations

FUNCTIONS = """
-- The instant a view is refreshed at: the refresh sets analytics.as_of from the application's
-- clock (analytics/services.py), so the views and the live slice split the days at one instant.
CREATE FUNCTION analytics_as_of() RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('analytics.as_of', true), '')::timestamptz, now())
$$;

-- One period at each of these locations, in the encoding of the booking_location_period index
-- (bookings.models.OccupancyRange). Immutable, so with constant arguments the planner computes
-- the array first and estimates the index scan from real values.
CREATE FUNCTION analytics_location_periods(
    location_ids bigint[], since timestamptz, until timestamptz
) RETURNS numrange[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_agg(occupancy_range(id, since, until)) FROM unnest(location_ids) AS id
$$;

-- The length of a set of periods in whole minutes.
CREATE FUNCTION analytics_minutes(periods tstzmultirange) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(round(sum(extract(epoch FROM upper(p) - lower(p))) / 60), 0)::integer
    FROM unnest(periods) AS p
$$;
"""

LOCATION_DAY = """
CREATE MATERIALIZED VIEW analytics_location_day AS
WITH booking AS (
    SELECT b.organization_id, b.location_id, b.customer_id, b.status, b.payment_status,
        b.total_price, b.starts_at, b.ends_at, b.created_at, l.time_zone AS tz
    FROM bookings_booking b
    JOIN accounts_location l ON l.id = b.location_id
    WHERE TRUE
),
fact AS (
    SELECT organization_id, location_id, tz, (created_at AT TIME ZONE tz)::date AS day,
        'created' AS kind, status, payment_status, total_price, customer_id
    FROM booking
    UNION ALL
    SELECT organization_id, location_id, tz, (starts_at AT TIME ZONE tz)::date,
        'starts', status, payment_status, total_price, customer_id
    FROM booking
    UNION ALL
    SELECT b.organization_id, b.location_id, b.tz, occupied.day::date,
        'occupies', b.status, b.payment_status, b.total_price, b.customer_id
    FROM booking b
    CROSS JOIN LATERAL generate_series(
        (b.starts_at AT TIME ZONE b.tz)::date::timestamp,
        ((b.ends_at AT TIME ZONE b.tz) - interval '1 microsecond')::date::timestamp,
        interval '1 day'
    ) AS occupied(day)
    WHERE b.status NOT IN ('cancelled', 'no_show')
),
figures AS (
    SELECT organization_id, location_id, day,
        count(*) FILTER (WHERE kind = 'created') AS created,
        count(*) FILTER (WHERE kind = 'occupies') AS taking_place,
        count(*) FILTER (WHERE kind = 'starts' AND status = 'completed') AS completed,
        count(*) FILTER (WHERE kind = 'starts' AND status = 'cancelled') AS cancelled,
        count(*) FILTER (WHERE kind = 'starts' AND status = 'no_show') AS no_shows,
        count(*) FILTER (WHERE kind = 'starts' AND status = 'completed' AND payment_status = 'paid') AS paid_bookings,
        coalesce(
            sum(total_price) FILTER (WHERE kind = 'starts' AND status = 'completed' AND payment_status = 'paid'), 0
        ) AS revenue,
        coalesce(
            array_agg(DISTINCT customer_id) FILTER (WHERE kind = 'occupies'), '{}'
        ) AS customer_ids
    FROM fact
    WHERE day < (analytics_as_of() AT TIME ZONE tz)::date
    GROUP BY organization_id, location_id, day
)
SELECT figures.*,
    round(revenue / nullif(paid_bookings, 0), 2) AS average_booking_value,
    cardinality(customer_ids) AS unique_customers
FROM figures;
CREATE UNIQUE INDEX analytics_location_day_key ON analytics_location_day (location_id, day);
"""

RESOURCE_DAY = """
CREATE MATERIALIZED VIEW analytics_resource_day AS
WITH calendar AS (
    SELECT l.organization_id, l.id AS location_id, l.time_zone AS tz,
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
    ) AS calendar_day
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
        ), '{}'::tstzmultirange)
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
        ), '{}'::tstzmultirange) AS open_hours
    FROM calendar
),
booked AS (
    SELECT b.resource_id, occupied.day::date AS day,
        range_agg(tstzrange(b.starts_at, b.ends_at)) AS periods
    FROM bookings_booking b
    JOIN accounts_location l ON l.id = b.location_id
    CROSS JOIN LATERAL generate_series(
        (b.starts_at AT TIME ZONE l.time_zone)::date::timestamp,
        ((b.ends_at AT TIME ZONE l.time_zone) - interval '1 microsecond')::date::timestamp,
        interval '1 day'
    ) AS occupied(day)
    WHERE b.status NOT IN ('cancelled', 'no_show') AND TRUE
    GROUP BY b.resource_id, occupied.day
)
SELECT r.organization_id, r.location_id, r.id AS resource_id, hours.day,
    analytics_minutes(hours.open_hours) AS open_minutes,
    analytics_minutes(
        hours.open_hours * coalesce(booked.periods, '{}'::tstzmultirange)
    ) AS booked_minutes
FROM fleet_resource r
JOIN hours ON hours.location_id = r.location_id
LEFT JOIN booked ON booked.resource_id = r.id AND booked.day = hours.day;
CREATE UNIQUE INDEX analytics_resource_day_key ON analytics_resource_day (resource_id, day);
CREATE INDEX analytics_resource_day_by_location ON analytics_resource_day (location_id, day);
"""

OFFERING_MONTH = """
CREATE MATERIALIZED VIEW analytics_offering_month AS
SELECT organization_id, location_id, service_id, resource_id,
    date_trunc('month', day)::date AS month,
    count(*) FILTER (WHERE status NOT IN ('cancelled', 'no_show')) AS bookings,
    coalesce(sum(total_price) FILTER (WHERE status = 'completed' AND payment_status = 'paid'), 0) AS revenue
FROM (
    SELECT b.organization_id, b.location_id, b.service_id, b.resource_id, b.status,
        b.payment_status, b.total_price, l.time_zone AS tz,
        (b.starts_at AT TIME ZONE l.time_zone)::date AS day
    FROM bookings_booking b
    JOIN accounts_location l ON l.id = b.location_id
    WHERE TRUE
) booking
WHERE day < (analytics_as_of() AT TIME ZONE tz)::date
GROUP BY organization_id, location_id, service_id, resource_id, date_trunc('month', day);
CREATE UNIQUE INDEX analytics_offering_month_key ON analytics_offering_month (location_id, service_id, resource_id, month);
CREATE INDEX analytics_offering_month_by_location ON analytics_offering_month (location_id, month);
"""


VIEWS = ["analytics_location_day", "analytics_resource_day", "analytics_offering_month"]


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(
            FUNCTIONS,
            "DROP FUNCTION analytics_minutes(tstzmultirange); DROP FUNCTION analytics_as_of(); "
            "DROP FUNCTION analytics_location_periods(bigint[], timestamptz, timestamptz);",
        ),
        migrations.RunSQL(LOCATION_DAY, "DROP MATERIALIZED VIEW analytics_location_day;"),
        migrations.RunSQL(RESOURCE_DAY, "DROP MATERIALIZED VIEW analytics_resource_day;"),
        migrations.RunSQL(OFFERING_MONTH, "DROP MATERIALIZED VIEW analytics_offering_month;"),
        # Created with their data: as of now.
        migrations.RunSQL(
            "INSERT INTO analytics_viewrefresh (view, as_of, duration, refresh_count) "
            "SELECT name, now(), interval '0', 0 FROM unnest(ARRAY["
            + ", ".join(f"'{view}'" for view in VIEWS)
            + "]) AS name",
            "DELETE FROM analytics_viewrefresh;",
        ),
    ]

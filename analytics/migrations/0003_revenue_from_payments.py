"""Revenue counts money kept: payments less refunds (bookings.Payment), not "completed and
paid" bookings' prices, made from analytics/figures.py's templates on the day they changed.

Only the two views with revenue change; analytics_resource_day stays. A materialized view
cannot be altered, so each is dropped and created again with its indexes: the unique one that
`REFRESH ... CONCURRENTLY` needs, and the one the dashboard reads by location. They are filled
as of now, and their refresh records say so. Reversing restores migration 0002's definitions.
"""

from importlib import import_module

from django.db import migrations

LOCATION_DAY = """
CREATE MATERIALIZED VIEW analytics_location_day AS
WITH booking AS (
    SELECT b.organization_id, b.location_id, b.customer_id, b.status, b.starts_at, b.ends_at,
        b.created_at, l.time_zone AS tz,
        (SELECT coalesce(sum(CASE p.kind WHEN 'refund' THEN -p.amount ELSE p.amount END), 0)
            FROM bookings_payment p WHERE p.booking_id = b.id) AS paid
    FROM bookings_booking b
    JOIN accounts_location l ON l.id = b.location_id
    WHERE TRUE
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
        count(*) FILTER (WHERE kind = 'starts' AND paid > 0) AS paid_bookings,
        coalesce(sum(paid) FILTER (WHERE kind = 'starts'), 0) AS revenue,
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

OFFERING_MONTH = """
CREATE MATERIALIZED VIEW analytics_offering_month AS
SELECT organization_id, location_id, service_id, resource_id,
    date_trunc('month', day)::date AS month,
    count(*) FILTER (WHERE status NOT IN ('cancelled', 'no_show')) AS bookings,
    coalesce(sum(paid), 0) AS revenue
FROM (
    SELECT b.organization_id, b.location_id, b.service_id, b.resource_id, b.status,
        l.time_zone AS tz, (b.starts_at AT TIME ZONE l.time_zone)::date AS day,
        (SELECT coalesce(sum(CASE p.kind WHEN 'refund' THEN -p.amount ELSE p.amount END), 0)
            FROM bookings_payment p WHERE p.booking_id = b.id) AS paid
    FROM bookings_booking b
    JOIN accounts_location l ON l.id = b.location_id
    WHERE TRUE
) booking
WHERE day < (analytics_as_of() AT TIME ZONE tz)::date
GROUP BY organization_id, location_id, service_id, resource_id, date_trunc('month', day);
CREATE UNIQUE INDEX analytics_offering_month_key ON analytics_offering_month (location_id, service_id, resource_id, month);
CREATE INDEX analytics_offering_month_by_location ON analytics_offering_month (location_id, month);
"""

VIEWS = ["analytics_location_day", "analytics_offering_month"]
REFRESHED_NOW = (
    "UPDATE analytics_viewrefresh SET as_of = now() WHERE view IN ("
    + ", ".join(f"'{view}'" for view in VIEWS)
    + ")"
)

previous = import_module("analytics.migrations.0002_report_views")


def drop(view: str) -> str:
    return f"DROP MATERIALIZED VIEW {view};"


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0002_report_views"),
        ("bookings", "0011_payment"),
    ]

    operations = [
        migrations.RunSQL(
            drop("analytics_location_day") + LOCATION_DAY,
            drop("analytics_location_day") + previous.LOCATION_DAY,
        ),
        migrations.RunSQL(
            drop("analytics_offering_month") + OFFERING_MONTH,
            drop("analytics_offering_month") + previous.OFFERING_MONTH,
        ),
        migrations.RunSQL(REFRESHED_NOW, REFRESHED_NOW),
    ]

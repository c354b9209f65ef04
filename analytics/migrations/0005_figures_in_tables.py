"""The figures move from materialized views to tables, so a refresh can recompute only the days
that changed (analytics.services.figures_update) instead of every day of every organization.

A materialized view can only be refreshed whole; a table can have some of its rows replaced. Each
`<name>_all` materialized view becomes the table `<name>` with its rows, so nothing is computed
here, and the walled view that stood in front of it goes: a table carries the organization wall
itself, put on here (and again by post_migrate) so no reader ever finds it open.

`analytics_touched_day` collects the local days whose figures a write made stale: triggers on
bookings and payments mark them in the writing transaction (as the availability generations
are bumped: they see every write, cost the booking no round trip, and commit with it or not at
all). The update reads and deletes the marks it recomputes. A mark is a row of its own for
each writing statement, with no unique key: a write never waits for another's mark nor for an
update's claim, and a mark an update could not see yet (its write not committed) is not the one
it deletes, so it stays for the next update.
"""

from importlib import import_module

from django.db import migrations, models

from config.row_security import POLICY, POLICY_EXPRESSION, SETTING, app_role

walled = import_module("analytics.migrations.0004_walled_report_views")
before_payments = import_module("analytics.migrations.0002_report_views")
with_payments = import_module("analytics.migrations.0003_revenue_from_payments")
EVENTS = import_module("bookings.migrations.0014_availability_generations").EVENTS

KEYS = {
    # (primary key, other indexes): the dashboard reads by location and day or month.
    "analytics_location_day": ("location_id, day", []),
    "analytics_resource_day": ("resource_id, day", ["location_id, day"]),
    "analytics_offering_month": ("location_id, service_id, resource_id, month", ["location_id, month"]),
}
EXPRESSION = POLICY_EXPRESSION.format(setting=SETTING)


def to_table(view: str) -> str:
    key, indexes = KEYS[view]
    return (
        f"DROP VIEW {view};\n"
        f"CREATE TABLE {view} AS TABLE {view}_all;\n"
        f"DROP MATERIALIZED VIEW {view}_all;\n"
        f"ALTER TABLE {view} ADD PRIMARY KEY ({key});\n"
        + "".join(f"CREATE INDEX {view}_by_location ON {view} ({columns});\n" for columns in indexes)
        + f"ALTER TABLE {view} ENABLE ROW LEVEL SECURITY;\n"
        f"CREATE POLICY {POLICY} ON {view} USING ({EXPRESSION}) WITH CHECK ({EXPRESSION});\n"
    )


def back_to_view(view: str) -> str:
    """Migration 0004's state: the view made again from its last definition, empty of the days
    its refresh record claims (so it is filled as of now), behind its walled view."""
    definition = {
        "analytics_location_day": with_payments.LOCATION_DAY,
        "analytics_resource_day": before_payments.RESOURCE_DAY,
        "analytics_offering_month": with_payments.OFFERING_MONTH,
    }[view]
    return (
        f"DROP TABLE {view};\n"
        + definition
        + walled.WALLED.format(view=view, expression=EXPRESSION)
        + f"UPDATE analytics_viewrefresh SET as_of = now() WHERE view = '{view}';\n"
    )


def grant_the_tables(apps, schema_editor) -> None:
    """The app role reads the tables under the wall (when it exists: on a new database
    post_migrate makes it, with these grants)."""
    role = app_role()
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is not None:
            cursor.execute(
                f"GRANT SELECT ON {', '.join(KEYS)}, analytics_touched_day TO {role};"
                f"GRANT INSERT ON analytics_touched_day TO {role};"
            )


# The local days a booking's figures belong to: every day from its start to its end (its
# outcome and revenue on the first, its time on each), whatever its status (a cancellation takes
# it out of the days it held), and, with `made`, the day it was made (the `created` count).
BOOKING_DAYS = """
CREATE FUNCTION analytics_booking_days(
    location bigint, made_at timestamptz, starts timestamptz, ends timestamptz, made boolean
) RETURNS TABLE (location_id bigint, day date) LANGUAGE sql STABLE AS $$
    SELECT l.id, touched.day
    FROM accounts_location l
    CROSS JOIN LATERAL (
        SELECT (made_at AT TIME ZONE l.time_zone)::date WHERE made
        UNION
        SELECT generate_series(
            (starts AT TIME ZONE l.time_zone)::date::timestamp,
            greatest(starts, ends - interval '1 microsecond') AT TIME ZONE l.time_zone,
            interval '1 day'
        )::date
    ) AS touched(day)
    WHERE l.id = location
$$;
"""

# An insert or a delete marks the day the booking was made too; an update only if it moved
# that day (its location or its creation time), so the outcomes recorded on a day's bookings
# mark that day alone.
MARK_BOOKING_DAYS = """
CREATE FUNCTION analytics_mark_booking_days() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO analytics_touched_day (location_id, day)
        SELECT DISTINCT touched.* FROM new_rows b
        CROSS JOIN LATERAL analytics_booking_days(
            b.location_id, b.created_at, b.starts_at, b.ends_at, TRUE) AS touched
        ;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO analytics_touched_day (location_id, day)
        SELECT DISTINCT touched.* FROM old_rows b
        CROSS JOIN LATERAL analytics_booking_days(
            b.location_id, b.created_at, b.starts_at, b.ends_at, TRUE) AS touched
        ;
    ELSE
        INSERT INTO analytics_touched_day (location_id, day)
        SELECT DISTINCT touched.* FROM old_rows o
        JOIN new_rows n ON n.id = o.id
            -- What the figures read: a reminder sent or a note written changes none.
            AND (o.status, o.starts_at, o.ends_at, o.location_id, o.resource_id, o.service_id,
                 o.customer_id, o.created_at)
            IS DISTINCT FROM (n.status, n.starts_at, n.ends_at, n.location_id, n.resource_id,
                 n.service_id, n.customer_id, n.created_at)
        CROSS JOIN LATERAL (
            SELECT (o.location_id, o.created_at) IS DISTINCT FROM (n.location_id, n.created_at)
        ) AS moved(made)
        CROSS JOIN LATERAL (
            SELECT * FROM analytics_booking_days(
                o.location_id, o.created_at, o.starts_at, o.ends_at, moved.made)
            UNION
            SELECT * FROM analytics_booking_days(
                n.location_id, n.created_at, n.starts_at, n.ends_at, moved.made)
        ) AS touched
        ;
    END IF;
    RETURN NULL;
END
$$;
"""
BOOKING_TRIGGERS = "".join(
    f"CREATE TRIGGER bookings_booking_analytics_{event.lower()} AFTER {event} ON bookings_booking "
    f"REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION analytics_mark_booking_days();\n"
    for event, tables in (
        ("INSERT", "NEW TABLE AS new_rows"),
        ("DELETE", "OLD TABLE AS old_rows"),
        ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    )
)

# A payment or refund changes the revenue of its booking's first day.
MARK_PAYMENT_DAYS = """
CREATE FUNCTION analytics_mark_payment_days() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO analytics_touched_day (location_id, day)
    SELECT DISTINCT b.location_id, (b.starts_at AT TIME ZONE l.time_zone)::date
    FROM changed_rows p
    JOIN bookings_booking b ON b.id = p.booking_id
    JOIN accounts_location l ON l.id = b.location_id
    ;
    RETURN NULL;
END
$$;
"""


# One trigger per event and transition table, as bookings 0014's generations.
PAYMENT_TRIGGERS = "".join(
    f"CREATE TRIGGER bookings_payment_analytics_{name} AFTER {event} ON bookings_payment "
    f"REFERENCING {which} TABLE AS changed_rows FOR EACH STATEMENT "
    f"EXECUTE FUNCTION analytics_mark_payment_days();\n"
    for name, event, which in EVENTS
)


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0004_walled_report_views"),
        ("bookings", "0020_timeline_changes_encrypted"),
    ]

    operations = [
        *[migrations.RunSQL(to_table(view), back_to_view(view)) for view in KEYS],
        migrations.CreateModel(
            name="TouchedDay",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("location_id", models.BigIntegerField()),
                ("day", models.DateField()),
            ],
            options={
                "db_table": "analytics_touched_day",
                "indexes": [models.Index(fields=["location_id", "day"], name="touched_day_by_location")],
            },
        ),
        migrations.RunSQL(
            BOOKING_DAYS,
            "DROP FUNCTION IF EXISTS analytics_booking_days(bigint, timestamptz, timestamptz, timestamptz, boolean);",
        ),
        migrations.RunSQL(MARK_BOOKING_DAYS, "DROP FUNCTION analytics_mark_booking_days();"),
        migrations.RunSQL(MARK_PAYMENT_DAYS, "DROP FUNCTION analytics_mark_payment_days();"),
        migrations.RunSQL(
            BOOKING_TRIGGERS,
            "".join(
                f"DROP TRIGGER IF EXISTS bookings_booking_analytics_{event} ON bookings_booking;"
                for event in ("insert", "delete", "update")
            ),
        ),
        migrations.RunSQL(
            PAYMENT_TRIGGERS,
            "".join(
                f"DROP TRIGGER IF EXISTS bookings_payment_analytics_{name} ON bookings_payment;"
                for name, _, _ in EVENTS
            ),
        ),
        migrations.AlterField(
            model_name="viewrefresh",
            name="as_of",
            field=models.DateTimeField(help_text="The table holds the local days before this instant's."),
        ),
        migrations.RunPython(grant_the_tables, migrations.RunPython.noop),
    ]

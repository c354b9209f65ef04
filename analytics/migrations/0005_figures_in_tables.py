"""The figures move from materialized views to tables, so a refresh can recompute only the days
that changed (analytics.services.figures_update) instead of every day of every organization.

A materialized view can only be refreshed whole; a table can have some of its rows replaced. Each
`<name>_all` materialized view becomes the table `<name>` with its rows, so nothing is computed
here, and the walled view that stood in front of it goes: a table carries the organization wall
itself, put on here (and again by post_migrate) so no reader ever finds it open.

`analytics_touched_day` collects the local days whose figures a write made stale: triggers on
bookings and payments mark them in the writing transaction (as the availability generations
are bumped: they see every write, cost the booking no round trip, and commit with it or not at
all). The update reads and deletes the marks it recomputes.
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


# The local days a booking's figures belong to: the day it was made (created) and every day from
# its start to its end (its outcome and revenue on the first, its time on each). Every status:
# a cancellation takes the booking out of the days it held.
MARK_BOOKING_DAYS = """
CREATE FUNCTION analytics_mark_booking_days() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO analytics_touched_day (location_id, day)
    SELECT DISTINCT b.location_id, touched.day
    FROM changed_rows b
    JOIN accounts_location l ON l.id = b.location_id
    CROSS JOIN LATERAL (
        SELECT (b.created_at AT TIME ZONE l.time_zone)::date
        UNION
        SELECT generate_series(
            (b.starts_at AT TIME ZONE l.time_zone)::date::timestamp,
            greatest(b.starts_at, b.ends_at - interval '1 microsecond')
                AT TIME ZONE l.time_zone,
            interval '1 day'
        )::date
    ) AS touched(day)
    ORDER BY 1, 2
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
"""

# A payment or refund changes the revenue of its booking's first day.
MARK_PAYMENT_DAYS = """
CREATE FUNCTION analytics_mark_payment_days() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO analytics_touched_day (location_id, day)
    SELECT DISTINCT b.location_id, (b.starts_at AT TIME ZONE l.time_zone)::date
    FROM changed_rows p
    JOIN bookings_booking b ON b.id = p.booking_id
    JOIN accounts_location l ON l.id = b.location_id
    ORDER BY 1, 2
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
"""


def triggers(table: str, function: str) -> migrations.RunSQL:
    """One trigger per event and transition table, as bookings 0014's generations."""
    return migrations.RunSQL(
        "".join(
            f"CREATE TRIGGER {table}_analytics_{name} AFTER {event} ON {table} "
            f"REFERENCING {which} TABLE AS changed_rows FOR EACH STATEMENT "
            f"EXECUTE FUNCTION {function}();\n"
            for name, event, which in EVENTS
        ),
        "".join(f"DROP TRIGGER IF EXISTS {table}_analytics_{name} ON {table};\n" for name, _, _ in EVENTS),
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
                ("pk", models.CompositePrimaryKey("location_id", "day", blank=True, editable=False, primary_key=True, serialize=False)),
                ("location_id", models.BigIntegerField()),
                ("day", models.DateField()),
            ],
            options={"db_table": "analytics_touched_day"},
        ),
        migrations.RunSQL(MARK_BOOKING_DAYS, "DROP FUNCTION analytics_mark_booking_days();"),
        migrations.RunSQL(MARK_PAYMENT_DAYS, "DROP FUNCTION analytics_mark_payment_days();"),
        triggers("bookings_booking", "analytics_mark_booking_days"),
        triggers("bookings_payment", "analytics_mark_payment_days"),
        migrations.AlterField(
            model_name="viewrefresh",
            name="as_of",
            field=models.DateTimeField(help_text="The table holds the local days before this instant's."),
        ),
        migrations.RunPython(grant_the_tables, migrations.RunPython.noop),
    ]

"""Availability generations, bumped by triggers in the transaction of every change.

A trigger rather than a signal or a call in each service: it sees every write (services, the
admin, bulk updates, cascades), it runs in the changing transaction, so the bump commits with
the change or not at all, and it costs the booking no round trip. Statement-level with
transition tables, so a bulk write bumps each row once, in (location, day) order.
"""

from django.db import migrations, models

OCCUPANCY_FUNCTION = """
CREATE FUNCTION bookings_occupancy_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A day's slots reach into its neighbours by at most a duration and a buffer: the local
    -- days of the occupancy and one on either side are bumped.
    INSERT INTO bookings_daygeneration AS g (location_id, day, generation)
    SELECT DISTINCT r.location_id, d::date, 1
    FROM changed_rows o
    JOIN fleet_resource r ON r.id = o.resource_id
    JOIN accounts_location l ON l.id = r.location_id
    CROSS JOIN LATERAL generate_series(
        (o.starts_at AT TIME ZONE l.time_zone)::date - 1,
        (o.ends_at AT TIME ZONE l.time_zone)::date + 1,
        interval '1 day'
    ) AS d
    ORDER BY 1, 2
    ON CONFLICT (location_id, day) DO UPDATE SET generation = g.generation + 1;
    RETURN NULL;
END
$$;
"""

REFERENCE_FUNCTION = """
CREATE FUNCTION bookings_reference_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bookings_referencegeneration AS g (organization_id, generation)
    SELECT DISTINCT organization_id, 1 FROM changed_rows ORDER BY 1
    ON CONFLICT (organization_id) DO UPDATE SET generation = g.generation + 1;
    RETURN NULL;
END
$$;
"""

# Which services a resource serves: the through table names no organization.
SERVICE_RESOURCES_FUNCTION = """
CREATE FUNCTION bookings_service_resources_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bookings_referencegeneration AS g (organization_id, generation)
    SELECT DISTINCT s.organization_id, 1
    FROM changed_rows c JOIN bookings_service s ON s.id = c.service_id ORDER BY 1
    ON CONFLICT (organization_id) DO UPDATE SET generation = g.generation + 1;
    RETURN NULL;
END
$$;
"""

REFERENCE_TABLES = [
    "accounts_location",
    "bookings_service",
    "bookings_servicevehicleprice",
    "bookings_openinghours",
    "bookings_closure",
    "fleet_resource",
    "fleet_car",
]

EVENTS = [
    ("insert", "INSERT", "NEW"),
    ("delete", "DELETE", "OLD"),
    ("update_old", "UPDATE", "OLD"),
    ("update_new", "UPDATE", "NEW"),
]


def triggers(table: str, function: str) -> migrations.RunSQL:
    """One trigger per event and transition table (an update bumps what it left and what it
    made), each calling the function with the changed rows as `changed_rows`."""
    create = "".join(
        f"CREATE TRIGGER {table}_gen_{name} AFTER {event} ON {table} "
        f"REFERENCING {which} TABLE AS changed_rows FOR EACH STATEMENT "
        f"EXECUTE FUNCTION {function}();\n"
        for name, event, which in EVENTS
    )
    drop = "".join(f"DROP TRIGGER IF EXISTS {table}_gen_{name} ON {table};\n" for name, _, _ in EVENTS)
    return migrations.RunSQL(create, drop)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_staff_invitation_email"),
        ("fleet", "0002_maintenance_and_reviews_moved_out"),
        ("bookings", "0013_payment_submission_key"),
    ]

    operations = [
        migrations.CreateModel(
            name="ReferenceGeneration",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("organization_id", models.BigIntegerField(unique=True)),
                ("generation", models.BigIntegerField(default=1)),
            ],
        ),
        migrations.CreateModel(
            name="DayGeneration",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("location_id", models.BigIntegerField()),
                ("day", models.DateField()),
                ("generation", models.BigIntegerField(default=1)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("location_id", "day"), name="day_generation_unique")
                ],
            },
        ),
        migrations.RunSQL(OCCUPANCY_FUNCTION, "DROP FUNCTION IF EXISTS bookings_occupancy_generation();"),
        migrations.RunSQL(REFERENCE_FUNCTION, "DROP FUNCTION IF EXISTS bookings_reference_generation();"),
        migrations.RunSQL(
            SERVICE_RESOURCES_FUNCTION,
            "DROP FUNCTION IF EXISTS bookings_service_resources_generation();",
        ),
        triggers("bookings_occupancy", "bookings_occupancy_generation"),
        *[triggers(table, "bookings_reference_generation") for table in REFERENCE_TABLES],
        triggers("bookings_service_resources", "bookings_service_resources_generation"),
    ]

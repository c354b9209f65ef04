"""The organization's own row joins its reference data: a change of its name, currency, time zone
or policies bumps its reference generation, in the changing transaction, as a change of a
service does (migration 0014). The catalogue kept per process (bookings.reference_cache) holds
the organization along with its services, so it must be renewed when the organization changes.
"""

from django.db import migrations

ORGANIZATION_FUNCTION = """
CREATE FUNCTION bookings_organization_reference_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bookings_referencegeneration AS g (organization_id, generation)
    SELECT DISTINCT id, 1 FROM changed_rows ORDER BY 1
    ON CONFLICT (organization_id) DO UPDATE SET generation = g.generation + 1;
    RETURN NULL;
END
$$;
"""

# Inserts need no trigger: a new organization has no reference data cached yet (generation 0).
EVENTS = [("update_old", "UPDATE", "OLD"), ("update_new", "UPDATE", "NEW"), ("delete", "DELETE", "OLD")]

CREATE_TRIGGERS = "".join(
    f"CREATE TRIGGER accounts_organization_gen_{name} AFTER {event} ON accounts_organization "
    f"REFERENCING {which} TABLE AS changed_rows FOR EACH STATEMENT "
    f"EXECUTE FUNCTION bookings_organization_reference_generation();\n"
    for name, event, which in EVENTS
)
DROP_TRIGGERS = "".join(
    f"DROP TRIGGER IF EXISTS accounts_organization_gen_{name} ON accounts_organization;\n"
    for name, _, _ in EVENTS
)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_staff_invitation_email"),
        ("bookings", "0016_outbox_email_snapshot"),
    ]

    operations = [
        migrations.RunSQL(
            ORGANIZATION_FUNCTION,
            "DROP FUNCTION IF EXISTS bookings_organization_reference_generation();",
        ),
        migrations.RunSQL(CREATE_TRIGGERS, DROP_TRIGGERS),
    ]

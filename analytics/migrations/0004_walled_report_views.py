"""The materialized views move to `<name>_all`, out of the app role's reach: PostgreSQL gives a
materialized view no row policy, so the app reads each through a walled view under its old name.

config.row_security makes those views after every migrate, as it makes the policies; this
migration makes them too, in its own transaction, so the old names are never missing while the
rest of a deploy's migrate runs (running code reads them). Reversed, the walled views go and
the materialized views take their names back.
"""

from django.db import migrations

from config.row_security import POLICY_EXPRESSION, SETTING, app_role

VIEWS = ["analytics_location_day", "analytics_resource_day", "analytics_offering_month"]

# The wall of config.row_security's walled views, as it stood here: each figure is walled as
# the bookings it comes from.
WALLED = """
ALTER MATERIALIZED VIEW {view} RENAME TO {view}_all;
CREATE VIEW {view} AS SELECT * FROM {view}_all
    WHERE {expression} OR NOT row_security_active('bookings_booking');
"""


def grant_the_walled_views(apps, schema_editor) -> None:
    """The app role reads the walled views, never the materialized ones (when it exists: on a
    new database post_migrate makes it, with these grants)."""
    role = app_role()
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None:
            return
        for view in VIEWS:
            cursor.execute(f"GRANT SELECT ON {view} TO {role}; REVOKE ALL ON {view}_all FROM {role};")


class Migration(migrations.Migration):
    dependencies = [("analytics", "0003_revenue_from_payments")]

    operations = [
        migrations.RunSQL(
            sql=WALLED.format(view=view, expression=POLICY_EXPRESSION.format(setting=SETTING)),
            reverse_sql=(
                f"DROP VIEW IF EXISTS {view}; ALTER MATERIALIZED VIEW {view}_all RENAME TO {view};"
            ),
        )
        for view in VIEWS
    ] + [migrations.RunPython(grant_the_walled_views, migrations.RunPython.noop)]

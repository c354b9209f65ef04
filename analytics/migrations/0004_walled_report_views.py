"""The materialized views move to `<name>_all`, out of the app role's reach: PostgreSQL gives a
materialized view no row policy, so the app reads each through a walled view under its old name
(config.row_security makes those after every migrate, as it makes the policies)."""

from django.db import migrations

VIEWS = ["analytics_location_day", "analytics_resource_day", "analytics_offering_month"]


class Migration(migrations.Migration):
    dependencies = [("analytics", "0003_revenue_from_payments")]

    operations = [
        migrations.RunSQL(
            sql=f"ALTER MATERIALIZED VIEW {view} RENAME TO {view}_all;",
            reverse_sql=(
                f"DROP VIEW IF EXISTS {view};"
                f" ALTER MATERIALIZED VIEW {view}_all RENAME TO {view};"
            ),
        )
        for view in VIEWS
    ]

"""Migrations analytics 0004 and 0005 leave running code no gap: from 0004's commit on, the
report views' names are walled views the app role may read, and from 0005's they are tables
holding the same rows behind the organization wall (a deploy's migrate goes on for a while
before post_migrate runs); both can be reversed, post_migrate included."""

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from config.row_security import platform_wide
from tests.accounts.test_row_security import app_role_connection, fill

VIEWS = ["analytics_location_day", "analytics_resource_day", "analytics_offering_month"]
BEFORE, WALLED, TABLES = (
    ("analytics", "0003_revenue_from_payments"),
    ("analytics", "0004_walled_report_views"),
    ("analytics", "0005_figures_in_tables"),
)


def kinds() -> dict[str, str]:
    """relkind of each report's name and of its `_all` (v: view, m: materialized, r: table)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, relkind::text FROM pg_class"
            " WHERE relnamespace = current_schema()::regnamespace AND relname = ANY(%s)",
            [VIEWS + [f"{view}_all" for view in VIEWS]],
        )
        return dict(cursor.fetchall())


def migrate_without_post_migrate(target) -> None:
    with platform_wide("test: the owner migrates, as `migrate` does"):
        MigrationExecutor(connection).migrate([target])


def assert_walled_views_over_closed_materialized_views() -> None:
    """0004's state: the names are walled views the app role reads (nothing without a scope),
    the materialized views behind them are closed to it."""
    assert kinds() == {**dict.fromkeys(VIEWS, "v"), **{f"{view}_all": "m" for view in VIEWS}}
    with app_role_connection() as app:
        for view in VIEWS:
            assert app.execute(f"SELECT count(*) FROM {view}").fetchone() == (0,)  # no scope
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute(f"SELECT count(*) FROM {view}_all")


@pytest.fixture
def back_to_the_latest(transactional_db):
    yield
    call_command("migrate", verbosity=0)  # every migration and post_migrate, as before


def test_the_names_are_walled_views_as_soon_as_0004_commits(back_to_the_latest):
    migrate_without_post_migrate(BEFORE)
    assert {kinds()[view] for view in VIEWS} == {"m"}

    migrate_without_post_migrate(WALLED)  # post_migrate has not run yet

    assert_walled_views_over_closed_materialized_views()


def test_0004_is_reversed_post_migrate_included(back_to_the_latest):
    call_command("migrate", *BEFORE, verbosity=0)  # post_migrate walls what exists
    assert {kinds()[view] for view in VIEWS} == {"m"}

    call_command("migrate", verbosity=0)
    assert kinds() == dict.fromkeys(VIEWS, "r")


def test_reversed_to_0004_the_materialized_views_stay_closed_to_the_app_role(
    back_to_the_latest,
):
    call_command("migrate", *WALLED, verbosity=0)  # post_migrate grants the schema, then closes

    assert_walled_views_over_closed_materialized_views()


def test_0005_keeps_the_rows_behind_the_wall_as_soon_as_it_commits(
    back_to_the_latest, tenant_a, tenant_b
):
    # given both tenants' figures in 0004's materialized views
    migrate_without_post_migrate(WALLED)
    fill(tenant_a, tenant_b)
    with platform_wide("test: the owner refreshes"), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('analytics.as_of', '2100-01-01', false)")
        for view in VIEWS:
            cursor.execute(f"REFRESH MATERIALIZED VIEW {view}_all")
        counts = {}
        for view in VIEWS:
            cursor.execute(f"SELECT organization_id, count(*) FROM {view}_all GROUP BY 1")
            counts[view] = dict(cursor.fetchall())
        cursor.execute("SELECT set_config('analytics.as_of', '', false)")
    a, b = tenant_a.organization.pk, tenant_b.organization.pk
    assert all(set(rows) == {a, b} for rows in counts.values())

    migrate_without_post_migrate(TABLES)  # post_migrate has not run yet

    # then the names are tables with the same rows, which the app role reads under the wall
    assert kinds() == dict.fromkeys(VIEWS, "r")
    with platform_wide("test: the rows moved"), connection.cursor() as cursor:
        for view in VIEWS:
            cursor.execute(f"SELECT organization_id, count(*) FROM {view} GROUP BY 1")
            assert dict(cursor.fetchall()) == counts[view], view
    with app_role_connection() as app:
        for view in VIEWS:
            assert app.execute(f"SELECT count(*) FROM {view}").fetchone() == (0,)  # no scope
        with app.transaction():
            app.execute("SELECT set_config('app.organization_ids', %s, true)", [str(a)])
            for view in VIEWS:
                rows = app.execute(f"SELECT organization_id, count(*) FROM {view} GROUP BY 1")
                assert dict(rows.fetchall()) == {a: counts[view][a]}, view
    with platform_wide("test: empty again"), connection.cursor() as cursor:
        for view in VIEWS:
            cursor.execute(f"DELETE FROM {view}")

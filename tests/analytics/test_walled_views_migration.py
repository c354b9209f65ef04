"""Migration analytics 0004 leaves running code no gap: from its own commit on, the report views'
names are walled views the app role may read (a deploy's migrate goes on for a while before
post_migrate remakes them), and it can be reversed, post_migrate included."""

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from config.row_security import platform_wide
from tests.accounts.test_row_security import app_role_connection

VIEWS = ["analytics_location_day", "analytics_resource_day", "analytics_offering_month"]
BEFORE, WALLED = (
    ("analytics", "0003_revenue_from_payments"),
    ("analytics", "0004_walled_report_views"),
)


def kinds() -> dict[str, str]:
    """relkind of each report view's name and of its `_all` (v: view, m: materialized)."""
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


@pytest.fixture
def back_to_the_latest(transactional_db):
    yield
    call_command("migrate", verbosity=0)  # every migration and post_migrate, as before


def test_the_names_are_walled_views_as_soon_as_0004_commits(back_to_the_latest):
    migrate_without_post_migrate(BEFORE)
    assert {kinds()[view] for view in VIEWS} == {"m"}

    migrate_without_post_migrate(WALLED)  # post_migrate has not run yet

    assert kinds() == {**dict.fromkeys(VIEWS, "v"), **{f"{view}_all": "m" for view in VIEWS}}
    with app_role_connection() as app:
        for view in VIEWS:
            assert app.execute(f"SELECT count(*) FROM {view}").fetchone() == (0,)  # no scope
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute(f"SELECT count(*) FROM {view}_all")


def test_0004_is_reversed_post_migrate_included(back_to_the_latest):
    call_command("migrate", *BEFORE, verbosity=0)  # post_migrate walls what exists
    assert {kinds()[view] for view in VIEWS} == {"m"}

    call_command("migrate", verbosity=0)
    assert {kinds()[view] for view in VIEWS} == {"v"}

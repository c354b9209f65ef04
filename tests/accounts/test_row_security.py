"""The second tenant wall: PostgreSQL's row policies, with the real app role (no mocks).

These tests hold whatever the application does: they read and write with raw SQL, around the
scoped managers, as the role the app's statements run as.
"""

import logging

import psycopg
import pytest
from django.apps import apps
from django.conf import settings
from django.db import ProgrammingError, connection, transaction
from django_scopes import scopes_disabled

from accounts.models import Location, TenantModel
from accounts.tenancy import organization_scope
from analytics.models import ReportView
from config.row_security import POLICY, platform_wide, tenant_tables, walled_views
from tests.analytics.history import views_emptied, views_refreshed_as_of
from tests.factories import BookingFactory, ResourceFactory, ServiceFactory

ROLE = settings.DATABASE_APP_ROLE


def app_role_connection() -> psycopg.Connection:
    """A connection of its own to the test database, as the app role: what any statement of
    the app runs as, seen from outside Django."""
    params = connection.settings_dict
    raw = psycopg.connect(
        host=params["HOST"] or None, port=params["PORT"] or None, user=params["USER"],
        password=params["PASSWORD"] or None, dbname=params["NAME"], autocommit=True,
    )  # fmt: skip
    raw.execute(f"SET ROLE {ROLE}")
    return raw


def fill(*tenants) -> None:
    """A row in every tenant table, for each tenant, committed (other connections see it)."""
    with scopes_disabled():
        for tenant in tenants:
            bay = ResourceFactory(location=tenant.location)
            service = ServiceFactory(organization=tenant.organization, resources=[bay])
            BookingFactory(resource=bay, service=service, customer=tenant.customer,
                           with_occupancy=True)  # fmt: skip


def test_every_tenant_model_table_carries_the_policy(db):
    with connection.cursor() as cursor:
        walled = set(tenant_tables(cursor))
        cursor.execute(
            "SELECT tablename FROM pg_policies"
            " WHERE policyname = %s AND schemaname = current_schema()",
            [POLICY],
        )
        with_policy = {name for (name,) in cursor.fetchall()}
        cursor.execute(
            "SELECT relname FROM pg_class"
            " WHERE relrowsecurity AND relnamespace = current_schema()::regnamespace"
        )
        enforced = {name for (name,) in cursor.fetchall()}
    tables = {
        model._meta.db_table
        for model in apps.get_models()
        # Every table: the managed ones and the analytics figures (the walled views aside).
        if issubclass(model, TenantModel) and getattr(model, "view_of", None) is None
    }
    assert set(ReportView.values) <= tables
    assert tables <= walled
    assert walled <= with_policy and walled <= enforced


def test_the_app_role_can_neither_bypass_the_policies_nor_owns_the_tables(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s", [ROLE])
        assert cursor.fetchone() == (False, False)
        cursor.execute("SELECT count(*) FROM pg_tables WHERE tableowner = %s", [ROLE])
        assert cursor.fetchone() == (0,)


def test_the_app_role_without_a_scope_finds_no_row_in_any_tenant_table(
    transactional_db, tenant_a, tenant_b
):
    fill(tenant_a, tenant_b)
    with app_role_connection() as raw:
        tables = tenant_tables(raw.cursor())
        for table in tables:
            assert raw.execute(f'SELECT count(*) FROM "{table}"').fetchone() == (0,), table
    # The same tables as the owner: the rows are there.
    with platform_wide("test: the rows exist"), connection.cursor() as cursor:
        for table in ("accounts_location", "bookings_booking", "bookings_occupancy"):
            cursor.execute(f'SELECT count(*) FROM "{table}"')
            assert cursor.fetchone()[0] > 0, table


def test_a_scope_shows_none_of_another_organizations_rows_even_through_raw_sql(
    transactional_db, tenant_a, tenant_b, request
):
    fill(tenant_a, tenant_b)
    views_refreshed_as_of("2100-01-01T00:00:00+00:00")  # both tenants' figures in the tables
    request.addfinalizer(views_emptied)
    a, b = tenant_a.organization.pk, tenant_b.organization.pk
    # From outside Django: the setting of one transaction, as the app sends it.
    with app_role_connection() as raw, raw.transaction():
        raw.execute("SELECT set_config('app.organization_ids', %s, true)", [str(a)])
        for table in tenant_tables(raw.cursor()):
            rows = raw.execute(f'SELECT DISTINCT organization_id FROM "{table}"').fetchall()
            assert set(rows) <= {(a,)}, table
            if table in ReportView.values:
                assert set(rows) == {(a,)}, table
    # Through the app's own connection, raw SQL in A's scope.
    with organization_scope(tenant_a.organization), connection.cursor() as cursor:
        cursor.execute("SELECT current_user, organization_id FROM bookings_booking")
        assert set(cursor.fetchall()) == {(ROLE, a)}
        cursor.execute("SELECT count(*) FROM accounts_customer WHERE organization_id = %s", [b])
        assert cursor.fetchone() == (0,)
    # Scopes of several organizations (a member of both) see both.
    with organization_scope([a, b]), connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT organization_id FROM bookings_booking ORDER BY 1")
        assert cursor.fetchall() == [(a,), (b,)]


def test_writing_another_organizations_row_under_a_scope_fails(tenant_a, tenant_b):
    with organization_scope(tenant_a.organization):
        # The scoped manager is not asked: a model saved directly, then raw SQL.
        stray = Location(organization=tenant_b.organization, name="Stray", slug="stray",
                         country="FI", time_zone="Europe/Helsinki")  # fmt: skip
        with pytest.raises(ProgrammingError, match="row-level security"), transaction.atomic():
            stray.save()
        with (
            pytest.raises(ProgrammingError, match="row-level security"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(
                "UPDATE accounts_location SET organization_id = %s WHERE id = %s",
                [tenant_b.organization.pk, tenant_a.location.pk],
            )
        # Another tenant's rows cannot be changed or removed: to this scope they do not exist.
        with connection.cursor() as cursor:
            cursor.execute("UPDATE accounts_location SET name = 'x' WHERE organization_id = %s",
                           [tenant_b.organization.pk])  # fmt: skip
            assert cursor.rowcount == 0
            cursor.execute("DELETE FROM accounts_customer WHERE organization_id = %s",
                           [tenant_b.organization.pk])  # fmt: skip
            assert cursor.rowcount == 0
    with scopes_disabled():
        assert Location.objects.get(pk=tenant_b.location.pk).name == tenant_b.location.name


def test_the_walled_views_hold_the_same_wall_and_cannot_be_written(
    transactional_db, tenant_a, tenant_b, request
):
    """The walled views bypass the policy (so the period indexes serve) and apply the wall
    themselves: never more than the wall."""
    fill(tenant_a, tenant_b)
    views_refreshed_as_of("2100-01-01T00:00:00+00:00")  # every booking's day in the views
    request.addfinalizer(views_emptied)
    a, b = tenant_a.organization.pk, tenant_b.organization.pk
    views = sorted(model._meta.db_table for model in walled_views())
    assert views == ["bookings_booking_period", "bookings_occupancy_period"]
    with app_role_connection() as raw:
        for view in views:
            assert raw.execute(f'SELECT count(*) FROM "{view}"').fetchone() == (0,), view
        with raw.transaction():
            raw.execute("SELECT set_config('app.organization_ids', %s, true)", [str(a)])
            for view in views:
                rows = raw.execute(f'SELECT DISTINCT organization_id FROM "{view}"').fetchall()
                assert rows == [(a,)], view
        for statement in (
            "UPDATE bookings_booking_period SET starts_at = starts_at",
            "DELETE FROM bookings_occupancy_period",
            "INSERT INTO bookings_occupancy_period (id) VALUES (1)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege), raw.transaction():
                raw.execute("SELECT set_config('app.organization_ids', %s, true)", [str(b)])
                raw.execute(statement)
    # The owner, like on the tables, sees every organization's rows.
    with platform_wide("test: the views as the owner"), connection.cursor() as cursor:
        for view in views:
            cursor.execute(f'SELECT DISTINCT organization_id FROM "{view}" ORDER BY 1')
            assert cursor.fetchall() == [(a,), (b,)], view


def test_the_scope_set_in_a_transaction_ends_with_it(tenant_a, tenant_b):
    with organization_scope(tenant_a.organization), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM accounts_location")
        assert cursor.fetchone() == (2,)
    with connection.cursor() as cursor:  # no scope: none of anyone's
        cursor.execute("SELECT count(*), current_user FROM accounts_location")
        assert cursor.fetchone() == (0, ROLE)
    # A savepoint rolled back after the scope was sent takes the setting with it; the next
    # statement sends it again.
    with organization_scope(tenant_a.organization), transaction.atomic():
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM accounts_location")
            transaction.set_rollback(True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM accounts_location")
            assert cursor.fetchone() == (2,)


@pytest.mark.django_db(transaction=True)
def test_a_transaction_may_still_begin_by_setting_its_isolation(tenant_a, tenant_b):
    """SET TRANSACTION must be a transaction's first statement (the dashboard's snapshot): the
    scope goes with the statement after it."""
    with (
        organization_scope(tenant_a.organization),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        cursor.execute("SELECT count(*), current_user FROM accounts_location")
        assert cursor.fetchone() == (2, ROLE)
        cursor.execute("SHOW transaction_isolation")
        assert cursor.fetchone() == ("repeatable read",)


def test_platform_wide_is_the_one_path_across_tenants_and_logs_why(tenant_a, tenant_b, caplog):
    with (
        caplog.at_level(logging.INFO, logger="platform.platform_wide"),
        platform_wide("test: counting every tenant's locations"),
    ):
        assert Location.objects.count() == 4
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user <> %s, count(*) FROM accounts_location", [ROLE])
            assert cursor.fetchone() == (True, 4)
    assert "counting every tenant's locations" in caplog.text
    with pytest.raises(ValueError), platform_wide(" "):
        pass

"""What a user sees when the database cannot answer, on the suite's own PostgreSQL: a lock
held by another session (503 database_busy, the 503 page on pages), a deadlock (the
transaction runs again), the longer budget of tasks, and a gunicorn timeout that must sit
above the statement timeout.
"""

import io
import runpy
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from django.core.management import call_command
from django.db import OperationalError, connection, transaction
from django.test import Client
from django.urls import reverse

from accounts.models import User
from config.database import atomic_with_retry, task_statement_budget
from tests.factories import UserFactory
from tests.scenarios import MONDAY, ApiTenant
from tests.servers import REPOSITORY

pytestmark = pytest.mark.usefixtures("empty_cache")
# The settings' lock timeout, and room for a loaded machine.
ANSWERED_WITHIN = 3.0 + 5.0


@contextmanager
def locked(table: str) -> Iterator[None]:
    """Another session holds ACCESS EXCLUSIVE on the table (a migration, a long admin job)."""
    settings = connection.settings_dict
    holder = psycopg.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        dbname=settings["NAME"],
    )
    try:
        holder.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        yield
    finally:
        holder.rollback()
        holder.close()


def day_page(tenant: ApiTenant) -> str:
    return reverse(
        "pages:service-day",
        kwargs={
            "organization_slug": tenant.organization.slug,
            "service_id": tenant.service.pk,
            "location_slug": tenant.location.slug,
            "day": MONDAY,
        },
    )


def test_a_page_waiting_on_a_locked_table_answers_the_503_page(transactional_db):
    tenant = ApiTenant("Alpha")
    with locked("bookings_occupancy"):
        started = time.monotonic()
        response = Client().get(day_page(tenant))
        waited = time.monotonic() - started

    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert response["Content-Type"].startswith("text/html")
    assert b"Please try again in a moment" in response.content
    assert waited < ANSWERED_WITHIN
    # and the page is back once the lock is gone
    assert Client().get(day_page(tenant)).status_code == 200


def test_an_api_read_waiting_on_a_locked_table_answers_database_busy(transactional_db):
    tenant = ApiTenant("Alpha")
    url = (
        f"/api/v1/organizations/alpha/services/{tenant.service.pk}/availability/"
        f"?location={tenant.location.pk}&date_from={MONDAY}&date_to={MONDAY}"
    )
    with locked("bookings_occupancy"):
        response = Client().get(url)

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "database_busy"
    assert response.json()["error"]["details"] == {"retry_after_seconds": 5}


def test_a_fault_before_the_view_is_a_503_too(transactional_db):
    # given the organizations table locked: the tenant middleware's lookup waits, before any view
    tenant = ApiTenant("Alpha")
    client = Client(raise_request_exception=False)
    with locked("accounts_organization"):
        api = client.get("/api/v1/organizations/alpha/services/")
        page = client.get(day_page(tenant))

    assert api.status_code == 503
    assert api.json()["error"]["code"] == "database_busy"
    assert page.status_code == 503
    assert b"Please try again in a moment" in page.content


def test_a_transaction_aborted_as_a_deadlock_is_run_again_whole(transactional_db):
    # given two transactions that take the same two rows in opposite orders, at the same time
    first, second = UserFactory(), UserFactory()
    meet = threading.Barrier(2)
    runs: Counter = Counter()
    failures: list[BaseException] = []

    @atomic_with_retry
    def rename(one: User, other: User, name: str) -> None:
        runs[name] += 1
        User.objects.filter(pk=one.pk).update(full_name=name)
        if runs[name] == 1:
            meet.wait(timeout=10)
        User.objects.filter(pk=other.pk).update(full_name=name)

    def client(one: User, other: User, name: str) -> None:
        try:
            rename(one, other, name)
        except BaseException as error:
            failures.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=client, args=(first, second, "left")),
        threading.Thread(target=client, args=(second, first, "right")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # then PostgreSQL aborted one as a deadlock, and it ran again and finished
    assert failures == []
    assert sorted(runs.values()) == [1, 2]
    names = set(User.objects.filter(pk__in=[first.pk, second.pk]).values_list("full_name"))
    assert len(names) == 1  # the transaction that ran last renamed both


def show_statement_timeout() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        return cursor.fetchone()[0]


def test_a_task_statement_budget_lasts_as_long_as_its_transaction(transactional_db):
    assert show_statement_timeout() == "10s"
    with transaction.atomic(), task_statement_budget(240):
        assert show_statement_timeout() == "4min"
    assert show_statement_timeout() == "10s"
    with pytest.raises(RuntimeError, match="needs a transaction"), task_statement_budget(240):
        pass


def test_gunicorn_refuses_to_start_with_a_timeout_not_above_the_statement_timeout(monkeypatch):
    monkeypatch.setenv("GUNICORN_TIMEOUT", "10")
    monkeypatch.setenv("DATABASE_STATEMENT_TIMEOUT", "10")
    with pytest.raises(RuntimeError, match="must be above DATABASE_STATEMENT_TIMEOUT"):
        runpy.run_path(str(REPOSITORY / "config" / "gunicorn.conf.py"))
    monkeypatch.setenv("GUNICORN_TIMEOUT", "30")
    assert runpy.run_path(str(REPOSITORY / "config" / "gunicorn.conf.py"))["timeout"] == 30


def test_migrate_backs_off_from_a_locked_table_and_leaves_the_request_budget(transactional_db):
    # given another session holding the migrations table (a long transaction on it)
    errors = io.StringIO()
    with locked("django_migrations"), pytest.raises(OperationalError):
        call_command(
            "migrate", "--lock-timeout=0.2", "--lock-retries=1", verbosity=0, stderr=errors
        )
    # then it waited briefly, said so, tried once more and gave up rather than queue forever
    assert errors.getvalue().count("A table is locked") == 1
    # and with the lock gone it runs, and the connection is back on the request budget
    call_command("migrate", verbosity=0)
    assert show_statement_timeout() == "10s"

"""The database page and report: real statistics views, on the suite's server and on a private
cluster that loads pg_stat_statements."""

import io
import logging
import os
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.db import connection
from django_scopes import scopes_disabled

from tests.factories import UserFactory
from tests.servers import REPOSITORY, PrivateCluster, require, running


@pytest.mark.django_db
def test_platform_admins_see_what_the_database_is_doing(client_for):
    page = client_for(UserFactory(is_superuser=True)).get("/admin/database/")

    assert page.status_code == 200
    sections = [table.title for table in page.context["tables"]]
    assert sections == ["Slowest statements", "Connections", "Table bloat",
                        "Index bloat (estimate)", "Unused indexes"]  # fmt: skip
    connections = page.context["tables"][1]
    assert sum(row[2] for row in connections.rows) >= 1  # this very request's connection
    assert "max_connections" in connections.note
    # The suite's server does not load pg_stat_statements: the page says what to do instead.
    assert "pg_stat_statements is not loaded" in page.content.decode()


@pytest.mark.django_db
def test_organization_staff_never_see_the_server_wide_page(client_for, tenant_a):
    assert client_for(tenant_a.owner).get("/admin/database/").status_code == 403
    assert client_for(None).get("/admin/database/").status_code == 302  # to the login


@pytest.mark.django_db
def test_an_index_no_query_uses_is_listed_as_unused():
    with scopes_disabled(), connection.cursor() as cursor:  # DDL is the owner's
        cursor.execute("CREATE TABLE insight_probe (id int, note text)")
        cursor.execute("CREATE INDEX insight_probe_note ON insight_probe (note)")
    out = io.StringIO()
    call_command("database_report", "--limit", "500", stdout=out)
    unused = out.getvalue().split("Unused indexes", 1)[1]
    assert "insight_probe_note" in unused


@pytest.mark.django_db
def test_a_slow_statement_is_logged_with_its_sql(settings, caplog):
    settings.DATABASE_SLOW_STATEMENT_MS = 50
    with (
        caplog.at_level(logging.WARNING, logger="platform.slow_statements"),
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT pg_sleep(0.08)")
        cursor.execute("SELECT 1")
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 1
    assert messages[0].startswith("Slow statement (") and "SELECT pg_sleep(0.08)" in messages[0]


def test_the_slowest_statements_come_from_pg_stat_statements_where_loaded():
    require("pg_ctl")
    cluster = PrivateCluster(settings={"shared_preload_libraries": "'pg_stat_statements'"})
    try:
        cluster.init()
        with running(cluster):
            cluster.psql("CREATE DATABASE insight")
            cluster.psql("CREATE EXTENSION pg_stat_statements", database="insight")
            cluster.psql("SELECT pg_sleep(0.05), 'a slow one'", database="insight")
            env = os.environ | {
                "DATABASE_URL": cluster.url("insight"),
                "DJANGO_SETTINGS_MODULE": "config.settings.test",
            }
            done = subprocess.run(
                [sys.executable, "manage.py", "database_report", "--limit", "50"],
                cwd=REPOSITORY, env=env, capture_output=True, text=True, timeout=120,
            )  # fmt: skip
    finally:
        cluster.stop()
        cluster.remove()
    assert done.returncode == 0, done.stderr
    slowest = done.stdout.split("Slowest statements", 1)[1].split("Connections", 1)[0]
    assert "not loaded" not in slowest
    assert "SELECT pg_sleep($1), $2" in slowest

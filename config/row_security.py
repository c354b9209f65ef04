"""The second tenant wall: PostgreSQL row-level security under the application's scoping.

The first wall is accounts/tenancy.py: scoped managers that refuse a query outside a tenant
scope. This one holds when that one is bypassed (raw SQL, `_base_manager`, a library's own
query): every table with an `organization_id` column carries the policy `organization_wall`,
which lets a statement see or write a row only when its organization is among those named by the
transaction-local setting `app.organization_ids`, and the app's statements run as
DATABASE_APP_ROLE, a role that neither owns the tables nor has BYPASSRLS.

How a statement gets its setting and role: the connection's psycopg cursor (innermost, beneath
Django's execute wrappers, so the metrics and any SQL inspection see the statement as written)
puts `SELECT set_config('app.organization_ids', '<ids>', true), set_config('role', '<app
role>', true);` in front of the statement, in the same round trip. Both settings are local to
the transaction, so nothing survives into the next one: safe behind PgBouncer in transaction
mode and on a replica (SET is allowed on a hot standby). Inside a transaction the prefix is sent
once, again only when the scope changes or a savepoint is rolled back (which would undo it).

The ids come from django-scopes' state, the one scoping mechanism: an organization scope (the
middleware, OrganizationTask, the customer's cross-organization bookings) names its
organizations; no scope names none, so a tenant table reads empty. `platform_wide(reason)` is
the one path across tenants: it disables the scopes, logs its reason, and its statements run as
the connection's own role (the owner, which the policies do not bind).

The role, its grants and the policies are made at post_migrate for every table found with an
`organization_id` column (new tenant tables get theirs with the migrate that creates them).
"""

import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connections, transaction
from django.db.backends.base.base import NO_DB_ALIAS
from django.db.backends.postgresql.base import Cursor as DjangoCursor
from django.db.backends.signals import connection_created
from django_scopes import get_scope, scopes_disabled
from psycopg import pq

audit = logging.getLogger("platform.platform_wide")

SETTING = "app.organization_ids"
POLICY = "organization_wall"
# Transaction control must run as written: a prefix would fail in an aborted transaction, and
# the rollback it precedes is what clears the abort; SET TRANSACTION must be a transaction's
# first statement (the dashboard's one snapshot), so the prefix waits for the next one.
_TRANSACTION_CONTROL = re.compile(
    r"\s*(SAVEPOINT|RELEASE|ROLLBACK|COMMIT|BEGIN|SET\s+TRANSACTION)\b", re.I
)
_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_ROLLBACK = re.compile(r"\s*ROLLBACK\b", re.I)


@contextmanager
def platform_wide(reason: str) -> Iterator[None]:
    """The one way code looks across tenants on purpose: the sweeper, seeding, the platform
    admin, the analytics refresh, the membership lookup behind every scope.

    Both walls open: the scoped managers answer for every organization and the statements run
    as the owner role, which the row policies do not bind. The reason is logged, so every
    crossing can be accounted for.
    """
    if not reason or not reason.strip():
        raise ValueError("platform_wide needs the reason it crosses tenants.")
    audit.info("platform-wide: %s", reason)
    with scopes_disabled():
        yield


def enabled() -> bool:
    return bool(getattr(settings, "DATABASE_ROW_SECURITY", False))


def app_role() -> str:
    role = settings.DATABASE_APP_ROLE
    if not _ROLE_NAME.fullmatch(role):
        raise ValueError(f"DATABASE_APP_ROLE {role!r} is not a plain lower-case role name.")
    return role


def allowed_organization_ids() -> str | None:
    """The organizations the current scope allows, as the setting's text ('' for none); None
    inside platform_wide (scopes disabled)."""
    state = get_scope()
    if state.get("_enabled", True) is False:
        return None
    return ",".join(str(pk) for pk in sorted(_ids(state.get("organization"))))


def _ids(organization) -> set[int]:
    if organization is None:
        return set()
    if isinstance(organization, Iterable) and not isinstance(organization, str | bytes):
        return set().union(*(_ids(item) for item in organization))
    return {int(getattr(organization, "pk", organization))}


def _prefix(ids: str | None) -> str:
    # Only digits and commas, and a role name checked by app_role(): safe to inline, which
    # keeps the statement's own %s parameters untouched.
    role = "none" if ids is None else app_role()
    return (
        f"SELECT set_config('{SETTING}', '{ids or ''}', true), set_config('role', '{role}', true); "
    )


class RowSecureCursor(DjangoCursor):
    """Django's psycopg cursor, which sends the current scope with each transaction."""

    def _scope_to_send(self, query) -> tuple[str | None] | None:
        """The scope this statement must carry, or None when the transaction has it already
        (or the statement is transaction control)."""
        conn = self.connection
        if not isinstance(query, str) or _TRANSACTION_CONTROL.match(query):
            if isinstance(query, str) and _ROLLBACK.match(query):
                _forget(conn)  # a rollback to a savepoint may undo the setting
            return None
        sent = (allowed_organization_ids(),)
        in_transaction = conn.info.transaction_status == pq.TransactionStatus.INTRANS
        if in_transaction and getattr(conn, "_row_security_sent", None) == sent:
            return None
        _forget(conn)
        if not in_transaction and sent == (None,):
            # Platform-wide from a transaction's start: nothing is set to undo. (And VACUUM,
            # CREATE INDEX CONCURRENTLY... refuse to share a transaction with a prefix.)
            conn._row_security_sent = sent
            return None
        return sent

    def execute(self, query, params=None, **kwargs):
        sent = self._scope_to_send(query)
        if sent is None:
            return super().execute(query, params, **kwargs)
        prefix = _prefix(*sent)
        super().execute(prefix + query, params, **kwargs)
        self.nextset()  # the statement's own result, not the prefix's
        self.connection._row_security_sent = sent
        # Django's query log (connection.queries, CaptureQueriesContext) reads the last query
        # from here: it shows the statement as written.
        sent_query = getattr(self._query, "query", None)
        if isinstance(sent_query, bytes) and sent_query.startswith(prefix.encode()):
            self._query.query = sent_query[len(prefix.encode()) :]
        return self

    def executemany(self, query, params_seq, **kwargs):
        sent = self._scope_to_send(query)
        if sent is None:
            return super().executemany(query, params_seq, **kwargs)
        # One transaction (a savepoint inside Django's), so the setting covers every row.
        with self.connection.transaction():
            super().execute(_prefix(*sent))
            return super().executemany(query, params_seq, **kwargs)


def _forget(conn) -> None:
    conn._row_security_sent = None


def _on_connection_created(sender, connection, **_kwargs) -> None:
    # The maintenance connection (CREATE DATABASE, which no transaction may hold) reads no
    # tenant's rows.
    if connection.vendor != "postgresql" or connection.alias == NO_DB_ALIAS or not enabled():
        return
    raw = connection.connection
    if raw.cursor_factory is not RowSecureCursor:
        if raw.cursor_factory is not DjangoCursor:
            raise RuntimeError(
                "DATABASE_ROW_SECURITY sends the scope with each statement, which needs Django's "
                "client-side binding cursor (no server_side_binding)."
            )
        raw.cursor_factory = RowSecureCursor
    _forget(raw)


def connect_signals() -> None:
    connection_created.connect(_on_connection_created, dispatch_uid="row-security")


# --- The role, its grants and the policies (post_migrate) ---------------------------------------

# Roles are shared by every database of the server: several test databases being made at once
# race to create the same role. Whoever loses sees the role made and goes on.
_CREATE_ROLE = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
        CREATE ROLE {role} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
DO $$
BEGIN
    IF NOT pg_has_role(current_user, '{role}', 'MEMBER') THEN
        EXECUTE format('GRANT {role} TO %I', current_user);
    END IF;
-- A concurrent grant of the same membership: "tuple concurrently updated" (XX000).
EXCEPTION WHEN duplicate_object OR unique_violation OR internal_error THEN NULL;
END $$;
"""

_GRANTS = """
GRANT USAGE ON SCHEMA {schema} TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES ON ALL TABLES IN SCHEMA {schema}
    TO {role};
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {schema} TO {role};
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {schema} TO {role};
"""

# Counters that triggers keep per organization, holding no tenant's data: a change of an
# organization's row (by anyone allowed to make it, in any scope) must be able to bump them.
UNWALLED = ("bookings_referencegeneration",)

# Every table (plain, partitioned, or a partition) with an organization_id column.
TENANT_TABLES_SQL = """
SELECT c.relname
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'organization_id' AND NOT a.attisdropped
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relname = ANY(%s)
ORDER BY c.relname
"""

POLICY_EXPRESSION = (
    "organization_id = ANY (string_to_array(current_setting('{setting}', true), ',')::bigint[])"
)


# A view that applies the wall in its own WHERE (bookings.models.periods says why): the rows
# the policy would let the reader see, for a reader the policy binds; every row for one it does
# not (the owner: platform_wide, or row security off), as on the table itself. Read-only for
# the app: an updatable view would write as its owner, past the policy's WITH CHECK.
_WALLED_VIEW = """
DROP VIEW IF EXISTS {view};
CREATE VIEW {view} AS SELECT {columns} FROM {source}
    WHERE {expression} OR NOT row_security_active('{walled_as}');
GRANT SELECT ON {view} TO {role};
"""
# A source that carries no policy of its own (a materialized view) is read only through its
# walled view.
_CLOSE_SOURCE = """
DO $$
BEGIN
    IF NOT (SELECT relrowsecurity FROM pg_class WHERE oid = '{source}'::regclass) THEN
        REVOKE ALL ON {source} FROM {role};
    END IF;
END $$;
"""


def walled_views() -> list[type]:
    """The unmanaged models whose tables are walled views: each names the relation it shows
    (`view_of`) and the table whose row security it follows (`walled_as`, by default the same:
    the analytics views' figures are walled as the bookings they come from)."""
    from django.apps import apps

    return [
        model
        for model in apps.get_models()
        if not model._meta.managed and getattr(model, "view_of", None) is not None
    ]


def _install_walled_views(cursor, quote, role: str, expression: str) -> None:
    # Dropped, made and granted in one round trip, one implicit transaction: readers wait for
    # it, none finds it missing. A migration that alters one of its columns drops it first.
    for model in walled_views():
        source = model.view_of
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [source])
        if not cursor.fetchone()[0]:
            continue  # migrated back to before its source existed: nothing to wall
        sql = _WALLED_VIEW.format(
            view=quote(model._meta.db_table),
            columns=", ".join(quote(field.column) for field in model._meta.concrete_fields),
            source=quote(source),
            walled_as=getattr(model, "walled_as", source),
            expression=expression,
            role=role,
        )
        cursor.execute(sql + _CLOSE_SOURCE.format(source=quote(source), role=role))


def tenant_tables(cursor) -> list[str]:
    cursor.execute(TENANT_TABLES_SQL, [list(UNWALLED)])
    return [name for (name,) in cursor.fetchall()]


def install(using: str = "default") -> list[str]:
    """Creates the app role if missing, grants it the schema, puts the policy on every tenant
    table and makes the walled views; returns the tables. Idempotent; run by the owner
    (post_migrate)."""
    role = app_role()
    expression = POLICY_EXPRESSION.format(setting=SETTING)
    quote = connections[using].ops.quote_name
    # One transaction: the schema-wide grants reach the views and the materialized views too,
    # and must never be seen before the walled views' revokes that follow them.
    with (
        platform_wide("row security: role, grants, policies and walled views after migrate"),
        transaction.atomic(using=using),
        connections[using].cursor() as cursor,
    ):
        cursor.execute(_CREATE_ROLE.format(role=role))
        cursor.execute("SELECT quote_ident(current_schema())")
        (schema,) = cursor.fetchone()
        cursor.execute(_GRANTS.format(schema=schema, role=role))
        tables = tenant_tables(cursor)
        # Tables walled already are left alone: flush (after each transactional test)
        # sends post_migrate too.
        cursor.execute(
            "SELECT tablename FROM pg_policies"
            " WHERE schemaname = current_schema() AND policyname = %s",
            [POLICY],
        )
        walled = {name for (name,) in cursor.fetchall()}
        for table in (name for name in tables if name not in walled):
            quoted = quote(table)
            cursor.execute(
                f"ALTER TABLE {quoted} ENABLE ROW LEVEL SECURITY;"
                f"DROP POLICY IF EXISTS {POLICY} ON {quoted};"
                f"CREATE POLICY {POLICY} ON {quoted} USING ({expression})"
                f" WITH CHECK ({expression});"
            )
        # After the policies: a source without one is closed to the app role.
        _install_walled_views(cursor, quote, role, expression)
        # So is any materialized view (it can carry no policy), walled view or not: the
        # schema-wide grant above reached them too.
        cursor.execute(
            "SELECT quote_ident(relname) FROM pg_class"
            " WHERE relkind = 'm' AND relnamespace = current_schema()::regnamespace"
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f"REVOKE ALL ON {name} FROM {role}")
    return tables


def _on_post_migrate(sender, using="default", **_kwargs) -> None:
    # Sent once per app after the whole plan ran: the last app's signal sees every table.
    from django.apps import apps

    with_models = [config for config in apps.get_app_configs() if config.models_module]
    if sender is with_models[-1]:
        install(using)


def connect_post_migrate() -> None:
    from django.db.models.signals import post_migrate

    post_migrate.connect(_on_post_migrate, dispatch_uid="row-security-install")

"""`migrate` with the budget a migration needs: no statement timeout, a short lock timeout.

A migration may legitimately rewrite a big table for minutes, so the request's
statement_timeout (DATABASE_STATEMENT_TIMEOUT) would kill it half way: it runs without one. What
must stay short is the wait for its lock: an ALTER TABLE queued behind a long transaction holds
every later reader and writer of that table behind it, which is how one migration freezes a
site. So each lock is waited for at most --lock-timeout seconds; then the migration (one
transaction on PostgreSQL) rolls back and the whole command is tried again, up to --lock-retries
times, letting the queue drain in between. Non-atomic migrations (atomic = False) must be
written to be re-runnable (IF NOT EXISTS) for the same reason.

Migrations are the owner's work: the command runs platform-wide (config/row_security.py), so
its DDL runs as the connection's role, never as the app role the tenant statements drop to.
"""

import time

from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import OperationalError, connections
from psycopg.errors import LockNotAvailable

from config.database import connection_options
from config.row_security import platform_wide


class Command(DjangoMigrate):
    help = DjangoMigrate.help + " No statement timeout; lock waits are short and retried."

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--lock-timeout",
            type=float,
            default=5.0,
            help="Seconds a migration waits for a table lock before it backs off (default 5).",
        )
        parser.add_argument(
            "--lock-retries",
            type=int,
            default=10,
            help="How many times a migration that could not get its lock is tried again.",
        )

    def handle(self, *args, **options) -> None:
        connection = connections[options["database"]]
        settings = connection.settings_dict.setdefault("OPTIONS", {})
        request_options = settings.get("options", "")
        if connection.vendor == "postgresql":
            # Appended, so these win over the request's timeouts; kept for any reconnection the
            # command makes, and put back afterwards (tests run migrate in their own process).
            budget = connection_options(statement_timeout=0, lock_timeout=options["lock_timeout"])
            settings["options"] = f"{request_options} {budget}".strip()
            connection.close()
        try:
            with platform_wide("migrate: the owner changes the schema"):
                self._migrate_with_retries(connection, *args, **options)
        finally:
            if connection.vendor == "postgresql":
                settings["options"] = request_options
                connection.close()

    def _migrate_with_retries(self, connection, *args, **options) -> None:
        for attempt in range(options["lock_retries"] + 1):
            try:
                super().handle(*args, **options)
                return
            except OperationalError as error:
                if not isinstance(error.__cause__, LockNotAvailable):
                    raise
                if attempt == options["lock_retries"]:
                    raise
                pause = min(2**attempt, 30)
                self.stderr.write(f"A table is locked ({error}); trying again in {pause} s.")
                connection.close()
                time.sleep(pause)

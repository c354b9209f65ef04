"""Append-only logs partitioned by month on `created_at` (PostgreSQL declarative partitioning).

The tables that only grow (a booking's timeline, the two email outboxes, the audit trail) are
split into one partition per calendar month (UTC), so the nightly maintenance
(config/operations/partitions.py) can create the months ahead and detach, archive and drop a
whole month past its retention instead of deleting row by row (which the audit trail's trigger
would refuse anyway). Our own small module rather than django-postgres-extra: we need
four statements (create a month, detach one, convert a table once, list them), and that library
replaces the database backend and the migration autodetector of the whole project to offer them
(docs/scaling.md).

What partitioning asks of the tables, and how they answer it:
- the primary key must contain the partition key: it is (id, created_at) in the database, while
  Django keeps `id` as its primary key. Ids still come from one identity sequence, so `id` alone
  stays unique and every ORM lookup by pk is right (it probes each month's index);
- a unique constraint must contain the partition key, so "one email per booking event" is kept
  by the booking's row lock instead (bookings.notifications.email_queue);
- a foreign key pointing INTO a partitioned table would need (id, created_at): none does, and
  converting a table fails rather than drop one (`DROP TABLE` without CASCADE);
- a DEFAULT partition takes any row outside the months created, so an insert never fails if the
  maintenance did not run; the next run moves such rows into their month.

The retention has a floor in code (RETENTION_FLOOR_MONTHS), below which the system check
refuses to start: a typo in an environment variable must not archive last month's timeline.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.conf import settings
from django.core import checks
from django.db import connection, transaction
from psycopg import sql

# A year of history plus the month under way: what staff and customers ask about ("what
# happened to my booking last spring"), what a card dispute reaches back to, and what the
# outbox's own checks read (reminders look at the emails of bookings made up to a year ahead).
RETENTION_FLOOR_MONTHS = 13


@dataclass(frozen=True)
class PartitionedLog:
    """One append-only table partitioned by month, and the setting naming its retention."""

    table: str
    retention_setting: str

    @property
    def retention_months(self) -> int:
        return getattr(settings, self.retention_setting)

    @property
    def default_partition(self) -> str:
        return f"{self.table}_default"

    def month_partition(self, month: date) -> str:
        return f"{self.table}_p{month:%Y%m}"


PARTITIONED_LOGS = (
    PartitionedLog("bookings_bookingevent", "PARTITION_TIMELINE_RETENTION_MONTHS"),
    PartitionedLog("bookings_outboxemail", "PARTITION_EMAIL_RETENTION_MONTHS"),
    PartitionedLog("accounts_accountemail", "PARTITION_EMAIL_RETENTION_MONTHS"),
    PartitionedLog("accounts_auditentry", "PARTITION_AUDIT_RETENTION_MONTHS"),
)


def partitioned_log(table: str) -> PartitionedLog:
    return next(log for log in PARTITIONED_LOGS if log.table == table)


def month_start(moment: date | datetime) -> date:
    """The first day of the (UTC) month holding the moment."""
    if isinstance(moment, datetime):
        moment = moment.astimezone(UTC).date()
    return moment.replace(day=1)


def add_months(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def execute_composed(cursor, statement: sql.Composable) -> None:
    """Run a statement built with psycopg.sql (quoted names and literals) on a Django cursor."""
    cursor.execute(statement.as_string(cursor.connection))


def _bound(month: date) -> sql.Literal:
    return sql.Literal(datetime(month.year, month.month, 1, tzinfo=UTC))


def partition_create(table: str, month: date) -> bool:
    """Create the month's partition of the table unless it exists; True if it was created.

    Rows of that month already in the DEFAULT partition (the maintenance did not run in time)
    are moved into the new month in the same transaction: PostgreSQL refuses to add a partition
    while the default one holds rows of its range.
    """
    log = partitioned_log(table)
    name = log.month_partition(month)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        if cursor.fetchone()[0]:
            return False
        low, high = _bound(month), _bound(add_months(month, 1))
        columns = sql.SQL(", ").join(map(sql.Identifier, _columns(cursor, table)))
        in_range = sql.SQL("created_at >= {} AND created_at < {}").format(low, high)
        default = sql.Identifier(log.default_partition)
        # No row may reach the default partition between the move and the new month; inserts
        # into every other month go on.
        execute_composed(
            cursor, sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(default)
        )
        execute_composed(
            cursor,
            sql.SQL("CREATE TEMPORARY TABLE moving AS SELECT {} FROM {} WHERE {}").format(
                columns, default, in_range
            ),
        )
        execute_composed(cursor, sql.SQL("DELETE FROM {} WHERE {}").format(default, in_range))
        execute_composed(
            cursor,
            sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})").format(
                sql.Identifier(name), sql.Identifier(table), low, high
            ),
        )
        execute_composed(
            cursor,
            sql.SQL("INSERT INTO {} ({}) SELECT {} FROM moving").format(
                sql.Identifier(table), columns, columns
            ),
        )
        cursor.execute("DROP TABLE moving")
    return True


def month_partitions(table: str) -> dict[date, str]:
    """The table's attached month partitions by their first day, oldest first."""
    log = partitioned_log(table)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT child.relname FROM pg_inherits"
            " JOIN pg_class child ON child.oid = pg_inherits.inhrelid"
            " WHERE pg_inherits.inhparent = %s::regclass AND child.relname <> %s",
            [table, log.default_partition],
        )
        names = [row[0] for row in cursor.fetchall()]
    return {partition_month(name): name for name in sorted(names)}


def partition_month(partition: str) -> date:
    """The month a partition holds, read from its name (`<table>_pYYYYMM`)."""
    stamp = partition.rsplit("_p", 1)[1]
    return date(int(stamp[:4]), int(stamp[4:]), 1)


def _columns(cursor, table: str) -> list[str]:
    cursor.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
        " AND NOT attisdropped ORDER BY attnum",
        [table],
    )
    return [row[0] for row in cursor.fetchall()]


# --- Converting an existing table, once (migrations bookings 0015, accounts 0008) ---------------


def convert_to_partitioned(schema_editor, table: str) -> None:
    """Rebuild the table as partitioned by month on created_at, keeping every row and id.

    Run by a migration, inside its transaction: the old table is locked, copied into the new
    one month by month and dropped; its indexes, checks, foreign keys and triggers are made
    again under their own names so later migrations find them. It takes the table offline for
    the copy, which is seconds for these tables on a platform of today's size
    (docs/operations.md).
    """
    quote = schema_editor.quote_name
    old = f"{table}_unpartitioned"
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {quote(table)} IN ACCESS EXCLUSIVE MODE")
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = %s::regclass AND contype = 'f'",
            [table],
        )
        foreign_keys = cursor.fetchall()
        cursor.execute(
            "SELECT pg_get_indexdef(indexrelid) FROM pg_index"
            " WHERE indrelid = %s::regclass AND NOT indisprimary",
            [table],
        )
        indexes = [row[0] for row in cursor.fetchall()]
        # Triggers of our own (the audit trail's append-only one); PostgreSQL clones each onto
        # every partition, and drops the clone when a month is detached.
        cursor.execute(
            "SELECT pg_get_triggerdef(oid) FROM pg_trigger"
            " WHERE tgrelid = %s::regclass AND NOT tgisinternal",
            [table],
        )
        triggers = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            f"SELECT date_trunc('month', min(created_at) AT TIME ZONE 'UTC')::date,"
            f" coalesce(max(id), 0) FROM {quote(table)}"
        )
        oldest, last_id = cursor.fetchone()
        cursor.execute(f"ALTER TABLE {quote(table)} RENAME TO {quote(old)}")
        # Defaults and checks come along; the identity is made again below, on the new table.
        cursor.execute(
            f"CREATE TABLE {quote(table)} (LIKE {quote(old)} INCLUDING DEFAULTS"
            f" INCLUDING CONSTRAINTS) PARTITION BY RANGE (created_at)"
        )
        cursor.execute(
            f"ALTER TABLE {quote(table)} ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY"
            f" (RESTART WITH {int(last_id) + 1})"
        )
        log = partitioned_log(table)
        cursor.execute(
            f"CREATE TABLE {quote(log.default_partition)} PARTITION OF {quote(table)} DEFAULT"
        )
        current = month_start(datetime.now(UTC))
        month = min(oldest or current, current)
        while month <= add_months(current, settings.PARTITION_MONTHS_AHEAD):
            partition_create(table, month)
            month = add_months(month, 1)
        cursor.execute(f"INSERT INTO {quote(table)} SELECT * FROM {quote(old)}")
        # Without CASCADE: a foreign key pointing into the table makes this fail, not vanish.
        cursor.execute(f"DROP TABLE {quote(old)}")
        cursor.execute(f"ALTER TABLE {quote(table)} ADD PRIMARY KEY (id, created_at)")
        for definition in indexes:
            cursor.execute(definition)
        for name, definition in foreign_keys:
            cursor.execute(f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} {definition}")
        for definition in triggers:
            cursor.execute(definition)


# --- The settings' check -------------------------------------------------------------------------


@checks.register()
def check_partition_retention(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Refuse a retention under the floor, and a maintenance that would not run ahead."""
    errors = []
    for setting in sorted({log.retention_setting for log in PARTITIONED_LOGS}):
        months = getattr(settings, setting, None)
        if not isinstance(months, int) or months < RETENTION_FLOOR_MONTHS:
            errors.append(
                checks.Error(
                    f"{setting} is {months!r}: partitions are archived and dropped after this "
                    f"many months, which may not be fewer than {RETENTION_FLOOR_MONTHS}.",
                    hint="Set it to a whole number of months of at least "
                    f"{RETENTION_FLOOR_MONTHS} (config/partitioning.py says why).",
                    id="partitioning.E001",
                )
            )
    ahead = getattr(settings, "PARTITION_MONTHS_AHEAD", None)
    if not isinstance(ahead, int) or ahead < 1:
        errors.append(
            checks.Error(
                f"PARTITION_MONTHS_AHEAD is {ahead!r}: at least next month must be created "
                "ahead, or rows land in the DEFAULT partition.",
                id="partitioning.E002",
            )
        )
    return errors

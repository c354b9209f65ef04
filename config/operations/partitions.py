"""The partitioned logs' nightly upkeep: months created ahead, old months archived and dropped.

Run by Celery beat (`partitions_maintain`, config/operations/tasks.py). For each partitioned
log (config/partitioning.py) it
1. creates the months from the current one to PARTITION_MONTHS_AHEAD ahead, so rows never wait
   on a DDL statement and the DEFAULT partition stays empty;
2. detaches each month that ended more than the log's retention ago, dumps the detached table
   with pg_dump into the backup storage (`partitions/<table>/<partition>.dump` and its
   `.json` manifest, written last), restores the dump into a scratch database and counts its
   rows, and only then drops the table. A month detached but not yet archived (a failed dump,
   a worker killed) is found again by its name on the next run and archived then.

Archives are kept: how long a business must keep its history is its own legal question, not a
setting here. docs/operations.md shows how to read one back.
"""

import json
import logging
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path

import psycopg
from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from psycopg import sql

from config.operations.backups import (
    BackupError,
    file_digest,
    pg_program,
    pg_run,
    scratch_database,
    storage_save,
)
from config.partitioning import (
    PARTITIONED_LOGS,
    PartitionedLog,
    add_months,
    execute_composed,
    month_partitions,
    month_start,
    partition_create,
    partition_month,
)
from config.row_security import platform_wide

logger = logging.getLogger(__name__)

# The nightly DETACH waits at most this long for the table's lock: behind a long transaction it
# gives up (the next night retries) instead of queueing every insert behind itself.
DETACH_LOCK_TIMEOUT = "5s"


@dataclass
class PartitionArchive:
    """The manifest of one archived month: what the dump holds and how to check it."""

    table: str
    partition: str
    month: str
    rows: int
    size_bytes: int
    sha256: str
    archived_at: str
    server_version: str

    @property
    def path(self) -> str:
        return f"partitions/{self.table}/{self.partition}"


@dataclass
class MaintenanceReport:
    created: list[str] = field(default_factory=list)
    archived: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # partition: why


def partitions_maintain(storage: Storage, *, now: datetime | None = None) -> MaintenanceReport:
    """Create the months ahead and archive the expired ones, for every partitioned log.

    Platform-wide: the owner's DDL, on every organization's rows (config/row_security.py)."""
    with platform_wide("partition upkeep: months created, expired ones archived"):
        return _partitions_maintain(storage, now=now or timezone.now())


def _partitions_maintain(storage: Storage, *, now: datetime) -> MaintenanceReport:
    report = MaintenanceReport()
    # Months ahead first, for every log: they are what keeps inserts off the DEFAULT partition.
    for log in PARTITIONED_LOGS:
        report.created += partitions_create_ahead(log, now=now)
    for log in PARTITIONED_LOGS:
        for partition in expired_partitions(log, now=now):
            try:
                partition_detach(log, partition)
            except DatabaseError as error:  # the lock timeout: busy, the next night retries
                report.failed[partition] = f"not detached: {error}"
        for partition in detached_partitions(log):
            try:
                partition_archive(storage, log, partition)
            except BackupError as error:
                report.failed[partition] = str(error)
            else:
                report.archived.append(partition)
    return report


def partitions_create_ahead(log: PartitionedLog, *, now: datetime) -> list[str]:
    current = month_start(now)
    created = []
    for ahead in range(settings.PARTITION_MONTHS_AHEAD + 1):
        month = add_months(current, ahead)
        if partition_create(log.table, month):
            created.append(log.month_partition(month))
    return created


def retention_start(log: PartitionedLog, *, now: datetime) -> date:
    """The first month kept: the retention counts whole months before the current one."""
    return add_months(month_start(now), -log.retention_months)


def expired_partitions(log: PartitionedLog, *, now: datetime) -> list[str]:
    keep_from = retention_start(log, now=now)
    return [name for month, name in month_partitions(log.table).items() if month < keep_from]


def partition_detach(log: PartitionedLog, partition: str) -> None:
    """Take the month out of the table; it is archived next (or by the next run)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{DETACH_LOCK_TIMEOUT}'")
        execute_composed(
            cursor,
            sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(
                sql.Identifier(log.table), sql.Identifier(partition)
            ),
        )
    logger.info("Detached %s from %s", partition, log.table)


def detached_partitions(log: PartitionedLog) -> list[str]:
    """Month tables of the log that are no partition of it any more: detached, not archived."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND NOT relispartition"
            " AND relnamespace = 'public'::regnamespace AND relname ~ %s ORDER BY relname",
            [f"^{log.table}_p[0-9]{{6}}$"],
        )
        return [row[0] for row in cursor.fetchall()]


def partition_archive(storage: Storage, log: PartitionedLog, partition: str) -> PartitionArchive:
    """Dump the detached month into the storage, prove the dump restores, then drop the table.

    Its foreign keys go first: the archive is a record that restores on its own, and the
    bookings it names may be long gone when it is read. Raises BackupError (the table stays,
    for the next run) if any step fails.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
            [partition],
        )
        for (name,) in cursor.fetchall():
            execute_composed(
                cursor,
                sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                    sql.Identifier(partition), sql.Identifier(name)
                ),
            )
        execute_composed(
            cursor, sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(partition))
        )
        rows = cursor.fetchone()[0]
    version = connection.pg_version
    with tempfile.TemporaryDirectory(prefix="partition-") as folder:
        path = Path(folder) / f"{partition}.dump"
        pg_run(
            pg_program("pg_dump", version),
            "--format=custom", "--compress=6", "--no-owner", "--no-privileges",
            f"--table=public.{partition}", f"--file={path}",
        )  # fmt: skip
        restored = _restored_rows(path, partition, version)
        if restored != rows:
            raise BackupError(f"the dump of {partition} restores {restored} rows, not {rows}")
        size, digest = file_digest(path)
        archive = PartitionArchive(
            table=log.table,
            partition=partition,
            month=f"{partition_month(partition):%Y-%m}",
            rows=rows,
            size_bytes=size,
            sha256=digest,
            archived_at=timezone.now().isoformat(),
            server_version=str(version),
        )
        with path.open("rb") as dump:
            storage_save(storage, f"{archive.path}.dump", File(dump))
    manifest = json.dumps(asdict(archive), indent=2).encode()
    storage_save(storage, f"{archive.path}.json", ContentFile(manifest))
    with connection.cursor() as cursor:
        execute_composed(cursor, sql.SQL("DROP TABLE {}").format(sql.Identifier(partition)))
    logger.info("Archived %s (%s rows) and dropped it", partition, rows)
    return archive


def _restored_rows(path: Path, partition: str, version: int) -> int:
    with scratch_database("partition") as scratch:
        pg_run(
            pg_program("pg_restore", version),
            "--no-owner", "--no-privileges", "--exit-on-error", f"--dbname={scratch}", str(path),
        )  # fmt: skip
        with psycopg.connect(scratch) as restored:
            query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(partition))
            return restored.execute(query).fetchone()[0]

"""Backups that are proven: a pg_dump with a manifest, and a restore that checks it.

A backup is two files in the backup storage (`STORAGES["backups"]`: a folder, or an
S3-compatible bucket through django-storages): `<name>.dump`, pg_dump's compressed custom
format, and `<name>.json`, its manifest. The manifest is written last, so a backup exists only
once it is complete. The row counts in the manifest are read in the very snapshot pg_dump
dumps (`pg_export_snapshot`), so a restore must find exactly them.

A verification restores a backup into a scratch database on the same server and checks what a
restore must give back: the checksum, the row count of every table, every constraint present
and valid, no booking that holds time without its occupancy, no two occupancies overlapping on
one resource. The scratch database is dropped whatever happened.
"""

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC
from pathlib import Path

import psycopg
from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.db import connection
from django.utils import timezone
from psycopg import sql

from bookings.policy import HOLDING_STATUSES
from config.operations.models import Backup, BackupStatus, Verification

CHUNK = 1024 * 1024
# pg_restore builds indexes and constraints in parallel; the server has cores to spare at night.
RESTORE_JOBS = min(4, os.cpu_count() or 1)


class BackupError(Exception):
    """A backup or a verification could not be done; the message says why."""


@dataclass
class Manifest:
    name: str
    created_at: str
    database: str
    server_version: str
    size_bytes: int
    sha256: str
    row_counts: dict[str, int]
    constraints: int

    @property
    def dump_name(self) -> str:
        return f"{self.name}.dump"


@dataclass
class VerificationResult:
    name: str
    problems: list[str] = field(default_factory=list)
    restore_seconds: float = 0.0
    checked_rows: int = 0

    @property
    def passed(self) -> bool:
        return not self.problems


def backup_storage() -> Storage:
    return storages["backups"]


# --- Taking a backup ---------------------------------------------------------------------------


def take_backup(storage: Storage, *, keep: int) -> Backup:
    """Dump the database to the storage with its manifest, record it, then apply retention."""
    started_at = timezone.now()
    name = "backup-" + started_at.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    try:
        manifest = _dump(storage, name)
    except BackupError as error:
        return Backup.objects.create(
            name=name, started_at=started_at, finished_at=timezone.now(),
            status=BackupStatus.FAILED, error=str(error),
        )  # fmt: skip
    record = Backup.objects.create(
        name=name,
        started_at=started_at,
        finished_at=timezone.now(),
        status=BackupStatus.SUCCEEDED,
        size_bytes=manifest.size_bytes,
        sha256=manifest.sha256,
        row_counts=manifest.row_counts,
    )
    remove_old_backups(storage, keep=keep)
    return record


def _dump(storage: Storage, name: str) -> Manifest:
    with tempfile.TemporaryDirectory(prefix="backup-") as folder:
        path = Path(folder) / f"{name}.dump"
        with _connect(_conninfo()) as snapshot:
            # One snapshot for the counts and the dump, held open until pg_dump has read it.
            snapshot.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            snapshot.read_only = True
            snapshot.execute("SET LOCAL statement_timeout = 0")
            snapshot_id = _value(snapshot, "SELECT pg_export_snapshot()")
            version_num = int(_value(snapshot, "SHOW server_version_num"))
            manifest_counts = _row_counts(snapshot)
            constraints = _constraint_count(snapshot)
            pg_run(
                pg_program("pg_dump", version_num),
                "--format=custom", "--compress=6", "--no-owner",
                f"--snapshot={snapshot_id}", f"--file={path}",
            )  # fmt: skip
        size, digest = file_digest(path)
        manifest = Manifest(
            name=name,
            created_at=timezone.now().isoformat(),
            database=_database_settings()["NAME"],
            server_version=str(version_num),
            size_bytes=size,
            sha256=digest,
            row_counts=manifest_counts,
            constraints=constraints,
        )
        with path.open("rb") as dump:
            storage_save(storage, manifest.dump_name, File(dump))
    storage_save(
        storage, f"{name}.json", ContentFile(json.dumps(asdict(manifest), indent=2).encode())
    )
    return manifest


def storage_save(storage: Storage, name: str, content) -> None:
    """Save under exactly this name: a storage that renames on a clash would break the pairing
    of a dump and its manifest by name."""
    saved = storage.save(name, content)
    if saved != name:
        storage.delete(saved)
        raise BackupError(f"the backup storage already holds {name}")


def remove_old_backups(storage: Storage, *, keep: int) -> list[str]:
    """Delete all but the newest `keep` backups from the storage; their rows stay as history."""
    names = backup_names(storage)
    expired = names[: max(len(names) - keep, 0)]
    for name in expired:
        storage.delete(f"{name}.json")  # first: a dump without its manifest is not a backup
        storage.delete(f"{name}.dump")
    Backup.objects.filter(name__in=expired, removed_at=None).update(removed_at=timezone.now())
    return expired


def backup_names(storage: Storage) -> list[str]:
    """The complete backups in the storage, oldest first (names sort by time)."""
    _folders, files = storage.listdir("")
    return sorted(name.removesuffix(".json") for name in files if name.endswith(".json"))


# --- Verifying a backup ------------------------------------------------------------------------


def verify_backup(storage: Storage, name: str | None = None) -> VerificationResult:
    """Restore a backup (the newest by default) into a scratch database and check it."""
    names = backup_names(storage)
    if not names:
        raise BackupError("the backup storage holds no backup")
    if name is None:
        name = names[-1]
    elif name not in names:
        raise BackupError(f"no backup named {name} in the backup storage")
    with storage.open(f"{name}.json") as manifest_file:
        manifest = Manifest(**json.loads(manifest_file.read()))
    result = VerificationResult(name=name)
    with tempfile.TemporaryDirectory(prefix="backup-verify-") as folder:
        path = Path(folder) / manifest.dump_name
        with storage.open(manifest.dump_name) as source, path.open("wb") as target:
            shutil.copyfileobj(source, target, CHUNK)
        size, digest = file_digest(path)
        if (size, digest) != (manifest.size_bytes, manifest.sha256):
            result.problems.append(
                f"the dump's checksum does not match its manifest ({size} bytes, sha256 "
                f"{digest[:12]}... instead of {manifest.size_bytes} bytes, "
                f"{manifest.sha256[:12]}...)"
            )
            _record_verification(result)
            return result
        started = time.monotonic()
        with scratch_database() as scratch:
            pg_run(
                pg_program("pg_restore", int(manifest.server_version)),
                "--no-owner", "--no-privileges", "--exit-on-error", f"--jobs={RESTORE_JOBS}",
                f"--dbname={scratch}", str(path),
            )  # fmt: skip
            result.restore_seconds = round(time.monotonic() - started, 2)
            with _connect(scratch) as restored:
                result.problems.extend(_restored_problems(restored, manifest))
                result.checked_rows = sum(manifest.row_counts.values())
    _record_verification(result)
    return result


def _restored_problems(restored: psycopg.Connection, manifest: Manifest) -> list[str]:
    problems = []
    counts = _row_counts(restored)
    for table in sorted(set(manifest.row_counts) | set(counts)):
        expected, found = manifest.row_counts.get(table), counts.get(table)
        if expected != found:
            problems.append(f"{table}: {found} rows restored, the manifest says {expected}")
    constraints = _constraint_count(restored)
    if constraints != manifest.constraints:
        problems.append(
            f"{constraints} constraints restored, the manifest says {manifest.constraints}"
        )
    not_valid = _value(
        restored,
        "SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace"
        " WHERE n.nspname = 'public' AND NOT c.convalidated",
    )
    if not_valid:
        problems.append(f"{not_valid} constraints are not valid")
    unheld = _value(
        restored,
        "SELECT count(*) FROM bookings_booking b WHERE b.status = ANY(%s) AND NOT EXISTS"
        " (SELECT 1 FROM bookings_occupancy o WHERE o.booking_id = b.id)",
        [sorted(HOLDING_STATUSES)],
    )
    if unheld:
        problems.append(f"{unheld} bookings hold time without an occupancy")
    # Sorted by start, any overlap on a resource shows as one between neighbours.
    overlaps = _value(
        restored,
        "SELECT count(*) FROM (SELECT starts_at, lag(ends_at) OVER"
        " (PARTITION BY resource_id ORDER BY starts_at, ends_at) AS previous_end"
        " FROM bookings_occupancy) ordered WHERE previous_end > starts_at",
    )
    if overlaps:
        problems.append(f"{overlaps} occupancies overlap another on the same resource")
    return problems


def _record_verification(result: VerificationResult) -> None:
    Backup.objects.filter(name=result.name).update(
        verification=Verification.PASSED if result.passed else Verification.FAILED,
        verified_at=timezone.now(),
        verification_problems=result.problems,
        restore_seconds=result.restore_seconds or None,
    )


class scratch_database:
    """A database on the same server for one restore, dropped on the way out; `purpose` keeps
    a backup's check and a partition archive's apart."""

    def __init__(self, purpose: str = "verify") -> None:
        self.purpose = purpose

    def __enter__(self) -> str:
        self.name = f"{_database_settings()['NAME']}_{self.purpose}"[:63]
        self._execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)"))
        self._execute(sql.SQL("CREATE DATABASE {}"))
        return _conninfo(self.name)

    def __exit__(self, *exc_info) -> None:
        self._execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)"))

    def _execute(self, statement: sql.SQL) -> None:
        with _connect(_conninfo(), autocommit=True) as admin:
            admin.execute(statement.format(sql.Identifier(self.name)))


# --- PostgreSQL plumbing -----------------------------------------------------------------------


def _database_settings() -> dict:
    return connection.settings_dict


def _conninfo(database: str | None = None) -> str:
    db = _database_settings()
    return psycopg.conninfo.make_conninfo(
        dbname=database or db["NAME"],
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        host=db.get("HOST") or None,
        port=str(db["PORT"]) if db.get("PORT") else None,
    )


def _connect(conninfo: str, *, autocommit: bool = False) -> psycopg.Connection:
    try:
        return psycopg.connect(conninfo, autocommit=autocommit, connect_timeout=10)
    except psycopg.OperationalError as error:
        raise BackupError(f"cannot connect to PostgreSQL: {error}") from error


def _value(conn: psycopg.Connection, query: str, params=None):
    return conn.execute(query, params).fetchone()[0]


def _row_counts(conn: psycopg.Connection) -> dict[str, int]:
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
    ]
    return {
        table: _value(conn, sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
        for table in tables
    }


def _constraint_count(conn: psycopg.Connection) -> int:
    return _value(
        conn,
        "SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace"
        " WHERE n.nspname = 'public'",
    )


def file_digest(path: Path) -> tuple[int, str]:
    """The file's size and sha256, read in chunks (dumps are large)."""
    digest = hashlib.sha256()
    with path.open("rb") as dump:
        while chunk := dump.read(CHUNK):
            digest.update(chunk)
    return path.stat().st_size, digest.hexdigest()


def pg_program(program: str, server_version_num: int) -> str:
    """pg_dump or pg_restore of the server's major version (or newer, which reads older dumps).

    Looked for in BACKUP_PG_BIN, Debian's per-version folders, the embedded server's own
    binaries, then PATH.
    """
    major = server_version_num // 10000
    folders = [settings.BACKUP_PG_BIN] if settings.BACKUP_PG_BIN else []
    folders += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    if embedded := importlib.util.find_spec("pgserver"):  # `make run`'s own PostgreSQL
        folders.append(Path(embedded.origin).parent / "pginstall" / "bin")
    candidates = [str(Path(folder) / program) for folder in folders]
    if path := shutil.which(program):
        candidates.append(path)
    for candidate in candidates:
        if os.access(candidate, os.X_OK) and _major_version(candidate) >= major:
            return candidate
    raise BackupError(
        f"no {program} of PostgreSQL {major} or newer found; install the PostgreSQL client "
        f"programs or set BACKUP_PG_BIN"
    )


def _major_version(program: str) -> int:
    try:
        done = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=10)
        return int(done.stdout.split()[-1].split(".")[0])
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        return 0


def pg_run(program: str, *arguments: str) -> None:
    """Run a PostgreSQL client program against the platform's database (its connection from
    the environment, never the command line); BackupError with its stderr if it fails."""
    db = _database_settings()
    env = os.environ | {
        key: str(value)
        for key, value in {
            "PGDATABASE": db["NAME"],
            "PGUSER": db.get("USER"),
            "PGPASSWORD": db.get("PASSWORD"),
            "PGHOST": db.get("HOST"),
            "PGPORT": db.get("PORT"),
        }.items()
        if value
    }
    done = subprocess.run([program, *arguments], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{Path(program).name} failed: {done.stderr.strip()[-2000:]}")

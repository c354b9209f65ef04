"""The partitioned logs on the suite's PostgreSQL: months created ahead, rows in their month,
the retention floor, archives that restore, and one email per booking event under racing writers.

Tests that archive or race commit their data (transactional tests): pg_dump and the racing
writers read it from connections of their own.
"""

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from celery.schedules import crontab
from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection, transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from bookings.models import BookingEvent, EmailKind, OutboxEmail
from bookings.notifications import email_queue
from config.celery import app as celery_app
from config.operations.backups import pg_program, pg_run, scratch_database
from config.operations.partitions import partitions_create_ahead, partitions_maintain
from config.partitioning import (
    PARTITIONED_LOGS,
    RETENTION_FLOOR_MONTHS,
    add_months,
    check_partition_retention,
    month_partitions,
    month_start,
    partition_create,
    partition_month,
)
from tests.factories import BookingFactory
from tests.servers import require

EVENTS = "bookings_bookingevent"


@pytest.fixture(autouse=True)
def as_the_owner():
    """Partition upkeep is platform-wide: these tests read and change the logs as the owner,
    past the row policies (config/row_security.py)."""
    with scopes_disabled():
        yield


def partition_of(model, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT tableoid::regclass::text FROM {model._meta.db_table} WHERE id = %s", [pk]
        )
        return cursor.fetchone()[0]


def own_conninfo() -> str:
    """A connection of its own to the test database."""
    settings_dict = connection.settings_dict
    return psycopg.conninfo.make_conninfo(
        dbname=settings_dict["NAME"],
        user=settings_dict.get("USER") or None,
        password=settings_dict.get("PASSWORD") or None,
        host=settings_dict.get("HOST") or None,
        port=str(settings_dict["PORT"]) if settings_dict.get("PORT") else None,
    )


def exists(table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
        return cursor.fetchone()[0]


def event_at(booking, created_at: datetime) -> BookingEvent:
    """A timeline entry written at a given time (auto_now_add is set on insert, then moved)."""
    event = BookingEvent.objects.create(
        organization=booking.organization, booking=booking, kind="note"
    )
    # An UPDATE of the partition key moves the row into the month it now belongs to.
    BookingEvent.objects.filter(pk=event.pk).update(created_at=created_at)
    return event


@pytest.fixture
def archiving(transactional_db):
    """pg_dump and pg_restore present; the past months a test made are gone afterwards, so
    neither the next test's maintenance nor the suite's flush (which cannot truncate past a
    detached month's foreign keys) meets them."""
    require("pg_dump")
    require("pg_restore")
    yield
    current = month_start(timezone.now())
    with connection.cursor() as cursor:
        for log in PARTITIONED_LOGS:
            cursor.execute(
                "SELECT relname FROM pg_class WHERE relkind = 'r' AND relname ~ %s",
                [f"^{log.table}_p[0-9]{{6}}$"],
            )
            for (name,) in cursor.fetchall():
                if partition_month(name) < current:
                    cursor.execute(f"DROP TABLE {name}")


@pytest.fixture
def booking(db):
    with scopes_disabled():
        return BookingFactory()


# --- Months ahead, rows in their month ----------------------------------------------------------


@pytest.mark.django_db
def test_every_log_has_the_current_month_and_the_months_ahead():
    current = month_start(timezone.now())
    for log in PARTITIONED_LOGS:
        months = month_partitions(log.table)
        for ahead in range(settings.PARTITION_MONTHS_AHEAD + 1):
            assert add_months(current, ahead) in months, (log.table, ahead)


@pytest.mark.django_db
def test_the_maintenance_creates_the_months_ahead_of_its_day():
    later = timezone.now() + timedelta(days=200)  # as if beat had run half a year from now

    created = {log.table: partitions_create_ahead(log, now=later) for log in PARTITIONED_LOGS}

    last = add_months(month_start(later), settings.PARTITION_MONTHS_AHEAD)
    for log in PARTITIONED_LOGS:
        assert last in month_partitions(log.table)
        assert log.month_partition(last) in created[log.table]
        # A second run the same night has nothing to do.
        assert partitions_create_ahead(log, now=later) == []


@pytest.mark.django_db
def test_rows_land_in_the_partition_of_their_month(booking):
    with scopes_disabled():
        now_event = BookingEvent.objects.create(
            organization=booking.organization, booking=booking, kind="note"
        )
        month_ahead = add_months(month_start(timezone.now()), 2)
        ahead_event = event_at(
            booking, datetime(month_ahead.year, month_ahead.month, 28, tzinfo=UTC)
        )

    log = PARTITIONED_LOGS[0]
    assert partition_of(BookingEvent, now_event.pk) == log.month_partition(
        month_start(now_event.created_at)
    )
    assert partition_of(BookingEvent, ahead_event.pk) == log.month_partition(month_ahead)


@pytest.mark.django_db
def test_a_row_past_the_months_created_waits_in_default_and_moves_when_its_month_is_made(booking):
    far = add_months(month_start(timezone.now()), 30)
    with scopes_disabled():
        event = event_at(booking, datetime(far.year, far.month, 3, 12, tzinfo=UTC))
    log = PARTITIONED_LOGS[0]
    assert partition_of(BookingEvent, event.pk) == log.default_partition

    assert partition_create(EVENTS, far) is True

    assert partition_of(BookingEvent, event.pk) == log.month_partition(far)
    with scopes_disabled():
        assert BookingEvent.objects.get(pk=event.pk).kind == "note"


# --- The retention floor ------------------------------------------------------------------------


def test_a_retention_under_the_floor_is_refused(settings):
    settings.PARTITION_EMAIL_RETENTION_MONTHS = RETENTION_FLOOR_MONTHS - 1

    (error,) = check_partition_retention()

    assert error.id == "partitioning.E001"
    assert "PARTITION_EMAIL_RETENTION_MONTHS is 12" in error.msg
    with pytest.raises(SystemCheckError, match=r"partitioning\.E001"):
        call_command("check")


def test_the_floor_itself_and_more_are_accepted(settings):
    settings.PARTITION_EMAIL_RETENTION_MONTHS = RETENTION_FLOOR_MONTHS
    settings.PARTITION_TIMELINE_RETENTION_MONTHS = 120
    assert check_partition_retention() == []


@pytest.mark.parametrize("value", [None, "24", 0])
def test_a_missing_or_mistyped_retention_is_refused(settings, value):
    settings.PARTITION_TIMELINE_RETENTION_MONTHS = value
    assert [error.id for error in check_partition_retention()] == ["partitioning.E001"]


def test_no_months_ahead_is_refused(settings):
    settings.PARTITION_MONTHS_AHEAD = 0
    assert [error.id for error in check_partition_retention()] == ["partitioning.E002"]


# --- Detached, archived, restorable -------------------------------------------------------------


def test_an_expired_month_is_archived_to_a_dump_that_restores_and_then_dropped(archiving, tmp_path):
    log = PARTITIONED_LOGS[0]
    now = timezone.now()
    old = add_months(month_start(now), -(settings.PARTITION_TIMELINE_RETENTION_MONTHS + 2))
    kept = add_months(month_start(now), -settings.PARTITION_TIMELINE_RETENTION_MONTHS)
    with scopes_disabled():
        booking = BookingFactory()
        partition_create(EVENTS, old)
        partition_create(EVENTS, kept)
        archived = [
            event_at(booking, datetime(old.year, old.month, day, tzinfo=UTC)) for day in (1, 15)
        ]
        recent = event_at(booking, datetime(kept.year, kept.month, 1, tzinfo=UTC))
    storage = FileSystemStorage(tmp_path)

    report = partitions_maintain(storage, now=now)

    name = log.month_partition(old)
    assert report.archived == [name] and report.failed == {}
    assert not exists(name)
    assert exists(log.month_partition(kept))  # the first month kept stays
    with scopes_disabled():
        assert list(BookingEvent.objects.filter(booking=booking).values_list("pk", flat=True)) == [
            recent.pk
        ]
    folder = tmp_path / "partitions" / EVENTS
    manifest = json.loads((folder / f"{name}.json").read_text())
    assert manifest["rows"] == 2 and manifest["month"] == f"{old:%Y-%m}"

    # The dump restores on its own, into an empty database: no foreign key to what is gone.
    version = connection.pg_version
    with scratch_database("partition_test") as scratch:
        pg_run(pg_program("pg_restore", version), "--no-owner", "--exit-on-error",
               f"--dbname={scratch}", str(folder / f"{name}.dump"))  # fmt: skip
        with psycopg.connect(scratch) as restored:
            rows = restored.execute(
                f"SELECT id, booking_id, kind FROM {name} ORDER BY id"
            ).fetchall()
    assert rows == [(event.pk, booking.pk, "note") for event in archived]


def test_a_month_detached_but_not_archived_is_archived_by_the_next_run(archiving, tmp_path):
    log = PARTITIONED_LOGS[0]
    old = add_months(
        month_start(timezone.now()), -(settings.PARTITION_TIMELINE_RETENTION_MONTHS + 1)
    )
    partition_create(EVENTS, old)
    name = log.month_partition(old)
    # given a run that detached the month and died before the dump
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {EVENTS} DETACH PARTITION {name}")

    report = partitions_maintain(FileSystemStorage(tmp_path))

    assert report.failed == {}
    assert report.archived == [name]
    assert not exists(name)


def test_a_month_behind_a_busy_table_waits_for_the_next_night(archiving, tmp_path):
    log = PARTITIONED_LOGS[0]
    old = add_months(
        month_start(timezone.now()), -(settings.PARTITION_TIMELINE_RETENTION_MONTHS + 1)
    )
    partition_create(EVENTS, old)
    name = log.month_partition(old)
    # given a long transaction writing to the timeline
    with psycopg.connect(own_conninfo()) as writer:
        writer.execute(f"LOCK TABLE {EVENTS} IN ROW EXCLUSIVE MODE")

        started = time.monotonic()
        report = partitions_maintain(FileSystemStorage(tmp_path))

    assert time.monotonic() - started < 30  # gave up after the lock timeout, did not queue
    assert report.failed[name].startswith("not detached")
    assert name in month_partitions(EVENTS).values()


# --- One email per booking event, whoever races -------------------------------------------------


def race(booking, writers: int, *, hold: float, fail_first: bool = False) -> list[bool]:
    """`writers` threads queue the same event's email at once, each in its own transaction held
    open `hold` seconds after the write; with `fail_first`, the first to write rolls back."""
    barrier = threading.Barrier(writers)
    results: list[bool] = []
    failed_once = threading.Event()

    def write() -> None:
        try:
            with scopes_disabled():
                barrier.wait()
                try:
                    with transaction.atomic():
                        email = email_queue(
                            booking, kind=EmailKind.REMINDER, event_key="reminder:race"
                        )
                        time.sleep(hold)
                        if email and fail_first and not failed_once.is_set():
                            failed_once.set()
                            raise RuntimeError("the writer's transaction fails after the write")
                        results.append(email is not None)
                except RuntimeError:
                    results.append(False)
        finally:
            connection.close()

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


@pytest.mark.django_db(transaction=True)
def test_racing_writers_of_one_event_write_one_email():
    with scopes_disabled():
        booking = BookingFactory()

    results = race(booking, writers=6, hold=0.2)

    assert sorted(results) == [False] * 5 + [True]
    with scopes_disabled():
        assert OutboxEmail.objects.filter(booking=booking, event_key="reminder:race").count() == 1


@pytest.mark.django_db(transaction=True)
def test_when_the_first_writer_rolls_back_the_next_one_writes_the_email():
    with scopes_disabled():
        booking = BookingFactory()

    results = race(booking, writers=4, hold=0.2, fail_first=True)

    # The rolled-back write took nothing with it: exactly one of the others wrote the email.
    assert sorted(results) == [False] * 3 + [True]
    with scopes_disabled():
        assert OutboxEmail.objects.filter(booking=booking, event_key="reminder:race").count() == 1


# --- Beat ---------------------------------------------------------------------------------------


def test_beat_runs_the_maintenance_each_night():
    entry = settings.CELERY_BEAT_SCHEDULE["maintain-partitions"]

    assert entry["task"] == "config.operations.tasks.partitions_maintain"
    assert entry["schedule"] == crontab(hour=3, minute=15)
    celery_app.loader.import_default_modules()
    assert entry["task"] in celery_app.tasks

"""Backups are proven by restoring them: `backup` then `backup_verify` on the suite's PostgreSQL.

The data is committed (transactional tests) because pg_dump reads it from its own connection.
"""

from pathlib import Path

import pytest
from django.core.files.storage import FileSystemStorage
from django.core.management import CommandError, call_command
from django.db import connection
from django_scopes import scopes_disabled
from prometheus_client.parser import text_string_to_metric_families

from bookings.models import BookingStatus, Occupancy
from config.operations.backups import backup_names
from config.operations.models import Backup, BackupStatus, Verification
from tests.factories import BookingFactory, UserFactory
from tests.servers import require

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def pg_tools():
    require("pg_dump")
    require("pg_restore")


@pytest.fixture
def bookings():
    with scopes_disabled():
        held = BookingFactory.create_batch(3, with_occupancy=True, status=BookingStatus.CONFIRMED)
        BookingFactory(status=BookingStatus.CANCELLED)  # a cancelled one holds no time
    return held


def backup(folder: Path, *args: str) -> Backup:
    call_command("backup", "--destination", str(folder), *args)
    return Backup.objects.latest()


def test_a_backup_restores_to_what_it_was_taken_from(tmp_path, bookings):
    taken = backup(tmp_path)

    assert taken.status == BackupStatus.SUCCEEDED
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        f"{taken.name}.dump",
        f"{taken.name}.json",
    ]
    assert taken.row_counts["bookings_booking"] == 4
    assert taken.row_counts["bookings_occupancy"] == 3
    # The backup's own history row was written after the snapshot: it is not in the dump.
    assert taken.row_counts["operations_backup"] == 0

    call_command("backup_verify", "--destination", str(tmp_path))

    taken.refresh_from_db()
    assert taken.verification == Verification.PASSED
    assert taken.verification_problems == []
    assert taken.restore_seconds > 0
    with connection.cursor() as cursor:  # the scratch database is gone again
        cursor.execute("SELECT count(*) FROM pg_database WHERE datname LIKE '%%_verify'")
        assert cursor.fetchone()[0] == 0


def test_a_damaged_dump_fails_verification_by_its_checksum(tmp_path, bookings):
    taken = backup(tmp_path)
    with (tmp_path / f"{taken.name}.dump").open("ab") as dump:
        dump.write(b"\0")

    with pytest.raises(CommandError, match="checksum does not match"):
        call_command("backup_verify", "--destination", str(tmp_path))

    taken.refresh_from_db()
    assert taken.verification == Verification.FAILED


def test_a_booking_that_lost_its_occupancy_fails_verification(tmp_path, bookings):
    with scopes_disabled():
        Occupancy.objects.filter(booking=bookings[0]).delete()  # what no service ever does
    backup(tmp_path)

    with pytest.raises(CommandError, match="1 bookings hold time without an occupancy"):
        call_command("backup_verify", "--destination", str(tmp_path))


def test_retention_keeps_the_newest_and_the_history(tmp_path, bookings):
    first = backup(tmp_path, "--keep", "2")
    second = backup(tmp_path, "--keep", "2")
    third = backup(tmp_path, "--keep", "2")

    assert backup_names(FileSystemStorage(location=tmp_path)) == [second.name, third.name]
    first.refresh_from_db()
    assert first.removed_at is not None
    assert Backup.objects.filter(removed_at=None).count() == 2
    with pytest.raises(CommandError, match="at least 1"):
        call_command("backup", "--destination", str(tmp_path), "--keep", "0")


def test_verifying_names_what_is_missing(tmp_path, bookings):
    with pytest.raises(CommandError, match="holds no backup"):
        call_command("backup_verify", "--destination", str(tmp_path))
    backup(tmp_path)
    with pytest.raises(CommandError, match="no backup named backup-2000"):
        call_command("backup_verify", "--destination", str(tmp_path), "--name", "backup-2000")


def test_the_nightly_task_backs_up_and_proves_it(tmp_path, settings, bookings):
    from config.operations.tasks import backup_and_verify

    settings.STORAGES = settings.STORAGES | {
        "backups": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        }
    }
    assert backup_and_verify.apply().result == "verified"
    assert Backup.objects.get().verification == Verification.PASSED


def test_only_platform_admins_see_the_backup_history(tmp_path, bookings, client_for, tenant_a):
    taken = backup(tmp_path)
    admin_page = client_for(UserFactory(is_superuser=True)).get("/admin/operations/backup/")
    assert admin_page.status_code == 200
    assert taken.name in admin_page.content.decode()

    owner_page = client_for(tenant_a.owner).get("/admin/operations/backup/")
    assert owner_page.status_code == 403


def test_the_backup_age_is_a_metric(tmp_path, bookings, client):
    taken = backup(tmp_path)
    families = text_string_to_metric_families(client.get("/metrics").content.decode())
    values = {family.name: family.samples[0].value for family in families
              if family.name.startswith("booking_backup_")}  # fmt: skip
    assert values == {
        "booking_backup_last_success_timestamp_seconds": pytest.approx(
            taken.finished_at.timestamp()
        ),
        "booking_backup_last_verified_timestamp_seconds": 0,
    }

"""`manage.py backup_verify`: restore a backup into a scratch database and check it."""

from django.core.files.storage import FileSystemStorage
from django.core.management.base import BaseCommand, CommandError

from config.operations.backups import BackupError, backup_storage, verify_backup


class Command(BaseCommand):
    help = (
        "Restore the newest backup (or --name) into a scratch database and check it against its "
        "manifest: checksum, rows per table, constraints, bookings and their occupancy. "
        "Exits non-zero when a check fails."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--name", help="The backup to verify (default: the newest).")
        parser.add_argument(
            "--destination", help="A folder to read from instead of the configured storage."
        )

    def handle(self, *args, name=None, destination=None, **options) -> None:
        storage = FileSystemStorage(location=destination) if destination else backup_storage()
        try:
            result = verify_backup(storage, name)
        except BackupError as error:
            raise CommandError(str(error)) from error
        if not result.passed:
            raise CommandError(
                f"Backup {result.name} failed verification:\n- " + "\n- ".join(result.problems)
            )
        self.stdout.write(
            f"Backup {result.name} verified: {result.checked_rows:,} rows restored and checked "
            f"in {result.restore_seconds:.1f} s"
        )

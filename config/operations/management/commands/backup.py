"""`manage.py backup`: dump the database with its manifest to the backup storage."""

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.core.management.base import BaseCommand, CommandError

from config.operations.backups import backup_storage, take_backup
from config.operations.models import BackupStatus


class Command(BaseCommand):
    help = "Back up the database (pg_dump, custom format) to STORAGES['backups'], with retention."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--destination", help="A folder to write to instead of the configured storage."
        )
        parser.add_argument(
            "--keep", type=int, default=settings.BACKUP_KEEP,
            help="How many of the newest backups to keep (default BACKUP_KEEP).",
        )  # fmt: skip

    def handle(self, *args, destination=None, keep, **options) -> None:
        if keep < 1:
            raise CommandError("--keep must be at least 1: retention never deletes the newest.")
        storage = FileSystemStorage(location=destination) if destination else backup_storage()
        backup = take_backup(storage, keep=keep)
        if backup.status != BackupStatus.SUCCEEDED:
            raise CommandError(f"Backup {backup.name} failed: {backup.error}")
        seconds = (backup.finished_at - backup.started_at).total_seconds()
        self.stdout.write(
            f"Backup {backup.name}: {backup.size_bytes:,} bytes, "
            f"{sum(backup.row_counts.values()):,} rows, {seconds:.1f} s"
        )

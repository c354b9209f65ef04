"""`manage.py reencrypt_personal_data`: every encrypted value re-encrypted with the newest key."""

from django.core.management.base import BaseCommand, CommandError

from config.encryption import UnreadableCiphertext, reencrypt_everything
from config.row_security import platform_wide


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted field with the first key of FIELD_ENCRYPTION_KEYS, in "
        "batches; afterwards the older keys can be removed (docs/operations.md)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--batch-size", type=int, default=500,
            help="Rows per transaction (default 500): small batches hold no long lock.",
        )  # fmt: skip

    def handle(self, *args, batch_size: int, **options) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        try:
            # Every organization's rows, on purpose: the owner's pass past the row policies.
            with platform_wide("reencrypt_personal_data: every organization's encrypted values"):
                done = reencrypt_everything(batch_size=batch_size)
        except UnreadableCiphertext as error:
            # The batches before it are committed; running again after the fix resumes safely.
            raise CommandError(f"{error.message} Keep every old key until this succeeds.") from None
        for label, rows in done.items():
            self.stdout.write(f"{label}: {rows:,} rows")
        self.stdout.write(self.style.SUCCESS("Every encrypted value now uses the newest key."))

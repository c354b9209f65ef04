"""The history of backups: what was taken, how big, and whether a restore of it was proven.

The backup folder or bucket is the source of truth (a dump and its manifest, config.operations.
backups); these rows are the history staff read in the admin and alerts read as metrics. They
are not tenant data: only platform admins see them.
"""

from django.db import models


class BackupStatus(models.TextChoices):
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class Verification(models.TextChoices):
    NOT_VERIFIED = "not_verified", "Not verified yet"
    PASSED = "passed", "Restored and checked"
    FAILED = "failed", "Restore check failed"


class Backup(models.Model):
    name = models.CharField(max_length=100, unique=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=BackupStatus.choices)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    row_counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    verification = models.CharField(
        max_length=12, choices=Verification.choices, default=Verification.NOT_VERIFIED
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    verification_problems = models.JSONField(default=list, blank=True)
    restore_seconds = models.FloatField(null=True, blank=True)
    # Set when retention deleted the files: the row stays as history.
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        get_latest_by = "started_at"

    def __str__(self) -> str:
        return self.name

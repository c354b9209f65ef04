"""The nightly backup and its proof, and the partitioned logs' upkeep, run by Celery beat
(CELERY_BEAT_SCHEDULE)."""

import logging

from celery import shared_task
from django.conf import settings

from config.operations import partitions
from config.operations.backups import BackupError, backup_storage, take_backup, verify_backup
from config.operations.models import BackupStatus

logger = logging.getLogger(__name__)


@shared_task(time_limit=settings.BACKUP_TIME_LIMIT, soft_time_limit=settings.BACKUP_TIME_LIMIT - 60)
def backup_and_verify() -> str:
    """Take a backup, then restore it: a backup counts once a restore of it has been checked.

    A failure is logged and recorded (the admin and the backup-age alert show it) rather than
    retried: the next night's run is the retry.
    """
    storage = backup_storage()
    backup = take_backup(storage, keep=settings.BACKUP_KEEP)
    if backup.status != BackupStatus.SUCCEEDED:
        logger.error("Backup %s failed: %s", backup.name, backup.error)
        return backup.status
    try:
        result = verify_backup(storage, backup.name)
    except BackupError as error:
        logger.error("Backup %s could not be verified: %s", backup.name, error)
        return "unverified"
    if not result.passed:
        logger.error("Backup %s failed verification: %s", backup.name, "; ".join(result.problems))
    return "verified" if result.passed else "verification_failed"


@shared_task(time_limit=settings.BACKUP_TIME_LIMIT, soft_time_limit=settings.BACKUP_TIME_LIMIT - 60)
def partitions_maintain() -> dict[str, list[str]]:
    """Create the partitioned logs' months ahead; archive and drop the expired ones.

    Like the backup, a month that could not be archived is logged, not retried: the next night's
    run finds it again by its name (detached, not dropped).
    """
    report = partitions.partitions_maintain(backup_storage())
    for partition, error in report.failed.items():
        logger.error("Partition %s could not be archived: %s", partition, error)
    return {"created": report.created, "archived": report.archived, "failed": list(report.failed)}

"""Housekeeping of the API kit, run by Celery beat (CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from config.api.models import IdempotencyRecord


@shared_task
def idempotency_records_purge() -> int:
    """Forget the answers to Idempotency-Keys past their lifetime, so the table stays small.

    The table is not tenant-scoped (a record belongs to a user), so no scope is needed.
    """
    deleted, _ = IdempotencyRecord.objects.expired().delete()
    return deleted

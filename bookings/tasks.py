"""Periodic housekeeping of the booking engine (scheduled in CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from bookings.models import IdempotencyRecord


@shared_task
def idempotency_records_purge() -> int:
    """Forget the answers to Idempotency-Keys past their lifetime, so the table stays small.

    Not tenant data (records belong to users), so no organization scope is needed.
    """
    deleted, _ = IdempotencyRecord.objects.expired().delete()
    return deleted

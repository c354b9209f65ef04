"""Background work of the accounts app: sending its email outbox (accounts/notifications.py).

Account emails belong to a person, not to an organization, so the tasks run in no tenant scope
(they touch no tenant data). Retries and the sweep work as bookings.tasks does for booking emails.
"""

from datetime import timedelta

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts import notifications
from accounts.models import AccountEmail

# How long the sweeper leaves an email it re-queued before it counts it as lost again.
SWEEP_CLAIM = timedelta(minutes=10)


@shared_task(bind=True, max_retries=settings.EMAIL_MAX_RETRIES)
def account_email_send(self, *, email_id: int) -> bool:
    """Send one account email, retrying with exponential backoff; sending twice is a no-op."""
    try:
        return notifications.account_email_deliver(email_id)
    except Exception as error:  # SMTP, provider API, network: anything may be passing
        gives_up = self.request.retries >= self.max_retries
        countdown = get_exponential_backoff_interval(
            factor=settings.EMAIL_RETRY_BACKOFF_SECONDS,
            retries=self.request.retries,
            maximum=settings.EMAIL_RETRY_BACKOFF_MAX_SECONDS,
            full_jitter=True,
        )
        retry_at = None if gives_up else timezone.now() + timedelta(seconds=countdown + 60)
        notifications.account_email_record_failure(email_id, error, retry_at=retry_at)
        if gives_up or self.request.is_eager:
            return False  # eager: the request must not wait; the sweeper tries again
        raise self.retry(exc=error, countdown=countdown) from error


@shared_task
def account_outbox_sweep() -> int:
    """Re-queue pending account emails whose task was lost (broker down, worker gone)."""
    with transaction.atomic():
        due = list(
            AccountEmail.objects.due()
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:1000]
        )
        AccountEmail.objects.filter(pk__in=due).update(next_attempt_at=timezone.now() + SWEEP_CLAIM)
    for email_id in due:
        account_email_send.delay(email_id=email_id)
    return len(due)

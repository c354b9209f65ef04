"""Background work of the booking engine: sending the email outbox, reminders, housekeeping.

Every task may run twice (acks_late redelivers a task whose worker died) and is written so that
a second run changes nothing. Tasks on one organization's data take `organization_id` and run in
its scope (accounts.tenancy.OrganizationTask); the periodic ones (CELERY_BEAT_SCHEDULE) fan out
one task per organization, or, for the outbox sweep, read across tenants on purpose.
"""

from datetime import timedelta

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts.models import Organization
from accounts.tenancy import OrganizationTask
from bookings import notifications
from bookings.models import OutboxEmail

# How long the sweeper leaves an email it re-queued before it counts it as lost again.
SWEEP_CLAIM = timedelta(minutes=10)


@shared_task(bind=True, base=OrganizationTask, max_retries=settings.EMAIL_MAX_RETRIES)
def outbox_email_send(self, *, organization_id: int, email_id: int) -> bool:
    """Send one outbox email, retrying with exponential backoff; sending twice is a no-op."""
    try:
        return notifications.email_deliver(email_id)
    except Exception as error:  # SMTP, provider API, network: anything may be passing
        gives_up = self.request.retries >= self.max_retries
        countdown = get_exponential_backoff_interval(
            factor=settings.EMAIL_RETRY_BACKOFF_SECONDS,
            retries=self.request.retries,
            maximum=settings.EMAIL_RETRY_BACKOFF_MAX_SECONDS,
            full_jitter=True,
        )
        # The sweeper takes over from here if the retry itself is lost.
        retry_at = None if gives_up else timezone.now() + timedelta(seconds=countdown + 60)
        notifications.email_record_failure(email_id, error, retry_at=retry_at)
        if gives_up or self.request.is_eager:
            # Eager (no broker): retrying inline would hold the web request; the row stays
            # pending for the sweeper or for staff to resend.
            return False
        raise self.retry(exc=error, countdown=countdown) from error


@shared_task
def outbox_sweep() -> int:
    """Re-queue pending emails whose task was lost (broker down at commit, worker gone).

    Reads the outbox across tenants, which only this housekeeping does; each email's own task
    runs in its organization's scope.
    """
    with scopes_disabled(), transaction.atomic():
        # Rows being sent right now are locked: skipped. The others are claimed for a while, so
        # a backlog longer than the sweep interval does not pile up one task per minute each.
        due = list(
            OutboxEmail.objects.due()
            .select_for_update(skip_locked=True)
            .values_list("organization_id", "pk")[:1000]
        )
        OutboxEmail.objects.filter(pk__in=[pk for _, pk in due]).update(
            next_attempt_at=timezone.now() + SWEEP_CLAIM
        )
    for organization_id, email_id in due:
        outbox_email_send.delay(organization_id=organization_id, email_id=email_id)
    return len(due)


@shared_task
def booking_reminders_schedule() -> int:
    """Fan out the reminder check, one task per organization."""
    organization_ids = list(Organization.objects.values_list("pk", flat=True))
    for organization_id in organization_ids:
        booking_reminders_queue.delay(organization_id=organization_id)
    return len(organization_ids)


@shared_task(base=OrganizationTask)
def booking_reminders_queue(*, organization_id: int) -> int:
    """Queue the reminders now due at one organization (each event once: see notifications)."""
    organization = Organization.objects.get(pk=organization_id)
    return notifications.reminders_queue(organization=organization)

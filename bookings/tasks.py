"""Background work of the booking engine: sending the email outbox, reminders, housekeeping.

Every task may run twice (acks_late redelivers a task whose worker died) and is written so that
a second run changes nothing. Tasks on one organization's data take `organization_id` and run in
its scope (accounts.tenancy.OrganizationTask); the periodic ones (CELERY_BEAT_SCHEDULE) fan out
one task per organization, or, for the outbox sweep, read across tenants on purpose.
"""

from celery import shared_task

from accounts.models import Organization
from accounts.outbox import outbox_claim_due, outbox_publish, outbox_send_task_body
from accounts.tenancy import OrganizationTask
from bookings import notifications
from bookings.models import OutboxEmail
from config.row_security import platform_wide


# max_retries=None: the email's own attempts decide when to give up (accounts.outbox).
@shared_task(bind=True, base=OrganizationTask, max_retries=None)
def outbox_email_send(self, *, organization_id: int, email_id: int) -> bool:
    """Send one outbox email, retrying with exponential backoff; sending twice is a no-op."""
    return outbox_send_task_body(
        self,
        rows=OutboxEmail.objects.all(),
        email_id=email_id,
        deliver=lambda: notifications.email_deliver(email_id),
        record_failure=lambda error, retry_at: notifications.email_record_failure(
            email_id, error, retry_at=retry_at
        ),
    )


@shared_task
def outbox_sweep() -> int:
    """Re-queue pending emails whose task was lost (broker down at commit, worker gone).

    Reads the outbox across tenants, which only this housekeeping does; each email's own task
    runs in its organization's scope.
    """
    with platform_wide("outbox sweep: due emails of every organization"):
        due = outbox_claim_due(OutboxEmail.objects.due(), "organization_id")
    due = [(organization_id, pk) for pk, organization_id in due]
    for organization_id, email_id in due:
        outbox_publish(outbox_email_send, organization_id=organization_id, email_id=email_id)
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

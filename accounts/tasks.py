"""Background work of the accounts app: sending its email outbox (accounts/notifications.py).

Account emails belong to a person, not to an organization, so the tasks run in no tenant scope
(they touch no tenant data). Retries and the sweep work as bookings.tasks does for booking emails.
"""

from celery import shared_task

from accounts import notifications
from accounts.models import AccountEmail
from accounts.outbox import outbox_claim_due, outbox_publish, outbox_send_task_body
from accounts.services import expired_tokens_delete


# max_retries=None: the email's own attempts decide when to give up (accounts.outbox).
@shared_task(bind=True, max_retries=None)
def account_email_send(self, *, email_id: int) -> bool:
    """Send one account email, retrying with exponential backoff; sending twice is a no-op."""
    return outbox_send_task_body(
        self,
        rows=AccountEmail.objects.all(),
        email_id=email_id,
        deliver=lambda: notifications.account_email_deliver(email_id),
        record_failure=lambda error, retry_at: notifications.account_email_record_failure(
            email_id, error, retry_at=retry_at
        ),
    )


@shared_task
def account_outbox_sweep() -> int:
    """Re-queue pending account emails whose task was lost (broker down, worker gone)."""
    due = [pk for (pk,) in outbox_claim_due(AccountEmail.objects.due())]
    for email_id in due:
        outbox_publish(account_email_send, email_id=email_id)
    return len(due)


@shared_task
def expired_tokens_purge() -> int:
    """Delete API tokens past their expiry, hourly: a request checks only its own token."""
    return expired_tokens_delete()

"""How an email outbox row is delivered, for every outbox of the platform: account emails
(accounts.notifications) and booking emails (bookings.notifications) keep their own tables and
build their own messages, and share these steps so they behave alike.

- `outbox_deliver`: lock the pending row, send, mark it sent, all in one transaction: a task
  delivered twice (acks late) waits on the lock and then finds the row sent.
- `outbox_record_failure`: count the attempt; give up when no retry is planned.
- `outbox_send_task_body`: the Celery task's retry with exponential backoff and jitter; eager
  (no broker) it never retries inline, since the web request must not wait.
- `outbox_claim_due`: the sweeper's claim of lost rows, skipping those being sent.
"""

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from accounts.metrics import EMAILS
from accounts.models import EmailStatus

logger = logging.getLogger(__name__)

# How long the sweeper leaves an email it re-queued before it counts it as lost again.
SWEEP_CLAIM = timedelta(minutes=10)


def outbox_deliver(
    rows: models.QuerySet,
    email_id: int,
    *,
    message: Callable[[models.Model], EmailMessage],
    refusal: Callable[[models.Model], str] | None = None,
) -> bool:
    """Send the pending row `email_id` of `rows` and mark it sent; False if it is not pending
    any more, or `refusal` names a reason not to send it (then it is marked failed)."""
    with transaction.atomic():
        # Only the row itself is locked (of="self"): locking what it joins while the mail goes
        # out would hold up changes to them.
        email = (
            rows.select_for_update(of=("self",))
            .filter(pk=email_id, status=EmailStatus.PENDING)
            .first()
        )
        if email is None:
            return False
        if refusal is not None and (reason := refusal(email)):
            email.status, email.last_error = EmailStatus.FAILED, reason
            email.save(update_fields=["status", "last_error"])
            return False
        message(email).send()
        email.status = EmailStatus.SENT
        email.sent_at = timezone.now()
        email.attempts = F("attempts") + 1
        email.last_error = ""
        email.save(update_fields=["status", "sent_at", "attempts", "last_error"])
    EMAILS.labels(rows.model._meta.model_name, "sent").inc()
    logger.info("%s %s sent", rows.model.__name__, email_id)
    return True


def outbox_record_failure(
    rows: models.QuerySet, email_id: int, error: Exception, *, retry_at: datetime | None
) -> None:
    """Note a failed attempt; without `retry_at` the email has failed for good."""
    logger.warning("%s %s not sent: %r", rows.model.__name__, email_id, error)
    changes = {"attempts": F("attempts") + 1, "last_error": repr(error)[:2000]}
    if retry_at is None:
        changes["status"] = EmailStatus.FAILED
    else:
        changes["next_attempt_at"] = retry_at
    rows.filter(pk=email_id, status=EmailStatus.PENDING).update(**changes)
    EMAILS.labels(rows.model._meta.model_name, "failed" if retry_at is None else "retry").inc()


def outbox_send_task_body(
    task, *, deliver: Callable[[], bool], record_failure: Callable[..., None]
) -> bool:
    """The body of an outbox's send task (a bound Celery task): deliver, or note the failure
    and retry with exponential backoff; the sweeper takes over if the retry itself is lost."""
    try:
        return deliver()
    except Exception as error:  # SMTP, provider API, network: anything may be passing
        gives_up = task.request.retries >= task.max_retries
        countdown = get_exponential_backoff_interval(
            factor=settings.EMAIL_RETRY_BACKOFF_SECONDS,
            retries=task.request.retries,
            maximum=settings.EMAIL_RETRY_BACKOFF_MAX_SECONDS,
            full_jitter=True,
        )
        retry_at = None if gives_up else timezone.now() + timedelta(seconds=countdown + 60)
        record_failure(error, retry_at=retry_at)
        if gives_up or task.request.is_eager:
            # Eager (no broker): retrying inline would hold the web request; the row stays
            # pending for the sweeper (or for staff to send again).
            return False
        raise task.retry(exc=error, countdown=countdown) from error


def outbox_claim_due(due: models.QuerySet, *fields: str, limit: int = 1000) -> list:
    """Claim the rows whose task was lost (`due`: pending and past their attempt time) for
    SWEEP_CLAIM and return `fields` of each. Rows being sent right now are locked: skipped; the
    claim keeps a backlog longer than the sweep interval from piling up one task a minute each."""
    with transaction.atomic():
        rows = list(due.select_for_update(skip_locked=True).values_list("pk", *fields)[:limit])
        due.model._base_manager.filter(pk__in=[row[0] for row in rows]).update(
            next_attempt_at=timezone.now() + SWEEP_CLAIM
        )
    return rows

"""How an email outbox row is delivered, for every outbox of the platform: account emails
(accounts.notifications) and booking emails (bookings.notifications) keep their own tables and
build their own messages, and share these steps so they behave alike.

An email's `next_attempt_at` is the end of its current claim: until then the sweep leaves it to
whoever holds it (the task queued at the commit, a send in progress, a retry on its way); after
it, a pending email nobody holds locked is lost, and the sweep queues it again.

- `outbox_publish`: queue an email's task with one short try; a broker down costs the request
  milliseconds and the sweep queues the email later.
- `outbox_deliver`: claim the row (count the attempt, commit), then lock it, send and mark it
  sent in one transaction: a task delivered twice skips the row another holds, or finds it sent;
  a send cut short by a dead worker has still counted its attempt.
- `outbox_record_failure` / `outbox_send_task_body`: note the failure and retry with
  exponential backoff; the email's own attempts decide when to give up.
- `outbox_claim_due`: the sweep's claim of lost rows, skipping those being sent.
"""

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import models, transaction
from django.db.models import DurationField, ExpressionWrapper, F, Value
from django.db.models.functions import Greatest, Least
from django.utils import timezone

from accounts.metrics import EMAILS
from accounts.models import EmailStatus

logger = logging.getLogger(__name__)

# The longest the sweep leaves an email it queued again before counting it lost once more. Its
# claim grows with the email's age (30 s, then as old as the email is): one whose task waits in
# a long queue (no worker running, a backlog) is queued again a few times, not every sweep.
REQUEUE_CLAIM_MAX = timedelta(minutes=10)


def outbox_claim_end(now: datetime | None = None) -> datetime:
    """When a claim taken now runs out (EMAIL_SEND_CLAIM_SECONDS)."""
    return (now or timezone.now()) + timedelta(seconds=settings.EMAIL_SEND_CLAIM_SECONDS)


def outbox_max_attempts() -> int:
    return 1 + settings.EMAIL_MAX_RETRIES


# --- Publishing ----------------------------------------------------------------------------------


class _Publisher:
    """This process's broker connections for queueing email tasks from a request.

    Celery's own producer pool retries: connecting, kombu retries for the whole
    broker_connection_timeout (4 s), and publishing, the task_publish_retry_policy (0.6 s with
    the broker refusing). Here a connection tries once (`max_retries` 0), connects within
    EMAIL_PUBLISH_TIMEOUT and waits no longer for the broker's answers (`read_timeout`,
    `write_timeout`, passed to py-amqp; Redis takes its socket timeouts), and the publish itself
    is not retried. The pool is per process (a forked child makes its own) and per broker URL.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pools: dict[tuple, object] = {}

    def pool(self, app):
        timeout = settings.EMAIL_PUBLISH_TIMEOUT
        key = (os.getpid(), app.conf.broker_url, timeout)
        with self._lock:
            if key not in self._pools:
                connection = app.connection_for_write(
                    connect_timeout=timeout,
                    transport_options={
                        "max_retries": 0,
                        "read_timeout": timeout,
                        "write_timeout": timeout,
                        "socket_timeout": timeout,
                        "socket_connect_timeout": timeout,
                    },
                )
                self._pools[key] = connection.Pool(limit=8)
            return self._pools[key]


_publisher = _Publisher()
# After a failed publish this process leaves the broker alone for PUBLISH_PAUSE: a broker that
# hangs (a dead network) would otherwise cost every booking the whole EMAIL_PUBLISH_TIMEOUT.
# One warning when publishing starts failing and one when it works again, not one per booking.
PUBLISH_PAUSE = 5.0
_broker_down_since: datetime | None = None
_paused_until = 0.0


def outbox_publish(task, **kwargs) -> bool:
    """Queue `task` with these keyword arguments, trying once; False if the broker could not
    take it (the row stays pending: the sweep queues it once its claim runs out).

    Called after the commit of a request: it must never hold the request for long, nor fail it.
    """
    global _broker_down_since, _paused_until
    if task.app.conf.task_always_eager:
        task.apply_async(kwargs=kwargs)  # no broker: run now, as .delay() would
        return True
    if time.monotonic() < _paused_until:
        return False
    timeout = settings.EMAIL_PUBLISH_TIMEOUT
    try:
        with _publisher.pool(task.app).acquire(block=True, timeout=timeout) as connection:
            try:
                task.apply_async(kwargs=kwargs, connection=connection, retry=False)
            except Exception:
                # A broken connection goes back to the pool closed: the next user reconnects.
                connection.collect()
                raise
    except Exception as error:  # the broker down, unreachable, slow or refusing: all alike
        _paused_until = time.monotonic() + PUBLISH_PAUSE
        if _broker_down_since is None:
            _broker_down_since = timezone.now()
            logger.warning(
                "Cannot queue %s on the broker (%r); emails stay pending for the sweep.",
                task.name,
                error,
            )
        return False
    if _broker_down_since is not None:
        logger.warning("The broker takes tasks again (failing since %s).", _broker_down_since)
        _broker_down_since = None
    return True


# --- Delivering ----------------------------------------------------------------------------------


def _claim(
    rows: models.QuerySet, email_id: int, refusal: Callable[[models.Model], str] | None
) -> bool:
    """Count an attempt on the pending row and claim it for EMAIL_SEND_CLAIM_SECONDS, committed
    before the send starts, so a send that never finishes has still counted. False if the row is
    not pending, another delivery holds it, or it has to be given up."""
    with transaction.atomic():
        # Only the row itself is locked (of="self"): locking what it joins would hold up
        # changes to them. A row locked by another delivery is skipped: that one is alive.
        email = (
            rows.select_for_update(of=("self",), skip_locked=True)
            .filter(pk=email_id, status=EmailStatus.PENDING)
            .first()
        )
        if email is None:
            return False
        reason = refusal(email) if refusal is not None else ""
        if not reason and email.attempts >= outbox_max_attempts():
            # Every attempt was cut short (a worker killed mid-send each time) or failed.
            reason = f"Gave up after {email.attempts} attempts. " + (
                f"Last error: {email.last_error}"
                if email.last_error
                else "Each was cut short (the worker stopped in the middle of the send)."
            )
        if reason:
            email.status, email.last_error = EmailStatus.FAILED, reason[:2000]
            email.save(update_fields=["status", "last_error"])
            return False
        email.attempts += 1
        email.next_attempt_at = outbox_claim_end()
        email.save(update_fields=["attempts", "next_attempt_at"])
    return True


def outbox_deliver(
    rows: models.QuerySet,
    email_id: int,
    *,
    message: Callable[[models.Model], EmailMessage],
    refusal: Callable[[models.Model], str] | None = None,
) -> bool:
    """Send the pending row `email_id` of `rows` and mark it sent; False if it is not pending
    any more, another delivery holds it, or `refusal` names a reason not to send it (then it
    is marked failed, as it is once its attempts are spent)."""
    if not _claim(rows, email_id, refusal):
        return False
    with transaction.atomic():
        email = (
            rows.select_for_update(of=("self",))
            .filter(pk=email_id, status=EmailStatus.PENDING)
            .first()
        )
        if email is None:
            return False  # a duplicate that claimed in the same instant sent it first
        message(email).send()
        email.status = EmailStatus.SENT
        email.sent_at = timezone.now()
        email.last_error = ""
        email.save(update_fields=["status", "sent_at", "last_error"])
    EMAILS.labels(rows.model._meta.model_name, "sent").inc()
    logger.info("%s %s sent", rows.model.__name__, email_id)
    return True


def outbox_record_failure(
    rows: models.QuerySet, email_id: int, error: Exception, *, retry_at: datetime | None
) -> None:
    """Note why an attempt (already counted) failed; without `retry_at` the email has failed
    for good, with it the sweep leaves it to the retry until one claim past that time."""
    logger.warning("%s %s not sent: %r", rows.model.__name__, email_id, error)
    changes = {"last_error": repr(error)[:2000]}
    if retry_at is None:
        changes["status"] = EmailStatus.FAILED
    else:
        changes["next_attempt_at"] = outbox_claim_end(retry_at)
    rows.filter(pk=email_id, status=EmailStatus.PENDING).update(**changes)
    EMAILS.labels(rows.model._meta.model_name, "failed" if retry_at is None else "retry").inc()


def outbox_retry_countdown(attempts: int) -> float | None:
    """Seconds to wait before the next attempt, after `attempts` of them; None when they are
    spent. Exponential backoff with full jitter, from the email's own count, whichever task or
    sweep made the attempts."""
    if attempts >= outbox_max_attempts():
        return None
    return get_exponential_backoff_interval(
        factor=settings.EMAIL_RETRY_BACKOFF_SECONDS,
        retries=max(attempts - 1, 0),
        maximum=settings.EMAIL_RETRY_BACKOFF_MAX_SECONDS,
        full_jitter=True,
    )


def outbox_send_task_body(
    task,
    *,
    rows: models.QuerySet,
    email_id: int,
    deliver: Callable[[], bool],
    record_failure: Callable[..., None],
) -> bool:
    """The body of an outbox's send task (a bound Celery task): deliver, or note the failure
    and retry with exponential backoff; the sweep takes over if the retry itself is lost."""
    try:
        return deliver()
    except Exception as error:  # SMTP, provider API, network: anything may be passing
        attempts = rows.filter(pk=email_id).values_list("attempts", flat=True).first() or 0
        countdown = outbox_retry_countdown(attempts)
        retry_at = None if countdown is None else timezone.now() + timedelta(seconds=countdown)
        record_failure(error, retry_at=retry_at)
        if countdown is None or task.request.is_eager:
            # Eager (no broker): retrying inline would hold the web request; the row stays
            # pending for the sweep (or for staff to send again).
            return False
        # The email's attempts decide when to stop (max_retries=None): Celery's own counter
        # starts again at 0 for every task the sweep queues.
        raise task.retry(exc=error, countdown=countdown, max_retries=None) from error


def outbox_claim_due(due: models.QuerySet, *fields: str, limit: int = 1000) -> list:
    """Claim the rows whose claim ran out (`due`) and return `fields` of each, to queue them
    again. Rows being sent right now are locked: skipped. The new claim grows with the email's
    age (REQUEUE_CLAIM_MAX), so an email waiting in a long queue is not queued every sweep."""
    now = timezone.now()
    claim = timedelta(seconds=settings.EMAIL_SEND_CLAIM_SECONDS)
    with transaction.atomic():
        rows = list(due.select_for_update(skip_locked=True).values_list("pk", *fields)[:limit])
        age = ExpressionWrapper(Value(now) - F("created_at"), output_field=DurationField())
        due.model._base_manager.filter(pk__in=[row[0] for row in rows]).update(
            next_attempt_at=Value(now)
            + Greatest(
                Least(age, Value(REQUEUE_CLAIM_MAX)),
                Value(claim),
                output_field=DurationField(),
            )
        )
    return rows

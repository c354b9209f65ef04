"""Booking emails through a real broker and real workers: each is sent exactly once.

The rest of the suite runs tasks eagerly, which cannot show what the outbox is for: a worker
killed while it sends, a broker that hands the task out again, the sweeper queueing it a second
time, a booking whose transaction rolls back after the email was written.
"""

import os
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import OperationalError, transaction
from django.utils import timezone
from django_scopes import scope

from bookings.models import EmailStatus, OutboxEmail
from bookings.tasks import outbox_sweep
from tests.celery.worker import wait_for
from tests.scenarios import EIGHT, book

pytestmark = [
    # Read from the environment (or .env): without one, the settings fall back to memory://,
    # which no other process can share.
    pytest.mark.skipif(
        not os.environ.get("CELERY_BROKER_URL") or settings.CELERY_BROKER_URL == "memory://",
        reason="no CELERY_BROKER_URL: the real-worker tests need Redis or RabbitMQ; "
        ".ci/run provides one",
    ),
    pytest.mark.django_db(transaction=True),
]

SEND = "bookings.tasks.outbox_email_send"


def outbox(wash) -> list[OutboxEmail]:
    with scope(organization=wash.organization):
        return list(OutboxEmail.objects.order_by("pk"))


def test_the_worker_sends_a_booking_confirmation_once(wash, start_worker, mail):
    worker = start_worker()

    with scope(organization=wash.organization):
        booking = book(wash)

    wait_for(lambda: worker.task_results(SEND), "the email task to run", workers=[worker])
    (email,) = outbox(wash)
    assert (email.status, email.attempts) == (EmailStatus.SENT, 1)
    (message,) = mail.sent()
    assert message["To"] == wash.customer.email
    assert booking.code in message["Subject"]
    assert message["Message-ID"].startswith(f"<outbox-{email.pk}@")  # the same on every attempt
    assert list(worker.task_results(SEND).values()) == ["True"]


def test_a_worker_killed_while_sending_costs_neither_the_email_nor_a_duplicate(
    wash, start_worker, mail
):
    # Given a worker whose email provider takes 30 s to answer
    first = start_worker(send_seconds=30)
    with scope(organization=wash.organization):
        booking = book(wash)
    (sending,) = wait_for(mail.sending, "the worker to start sending", workers=[first])
    # It is in the middle of delivery: it holds the row's lock, the row is still pending.
    with (
        pytest.raises(OperationalError),
        scope(organization=wash.organization),
        transaction.atomic(),
    ):
        OutboxEmail.objects.select_for_update(nowait=True).get(booking=booking)
    (email,) = outbox(wash)
    assert email.status == EmailStatus.PENDING

    # When the worker is killed mid-send, main process and pool child alike
    first.kill()

    # then nothing went out, and PostgreSQL rolled its transaction back (this waits for the
    # lock); the interrupted attempt counted, as it was claimed before the send began
    with scope(organization=wash.organization):
        OutboxEmail.objects.filter(pk=email.pk).update(
            # As if the send's claim had run out and the sweep came round.
            next_attempt_at=timezone.now() - timedelta(seconds=1)
        )
    (email,) = outbox(wash)
    assert (email.status, email.attempts, mail.sent()) == (EmailStatus.PENDING, 1, [])

    # When the sweeper queues the email again (with no worker running, so it surely finds it
    # pending), and a new worker starts
    assert outbox_sweep() == 1
    # Redis hands an unacknowledged task out again once it is `visibility_timeout` old, when a
    # worker starts; a short one lets the new worker do it here. RabbitMQ requeued the task the
    # moment the killed worker's connection dropped.
    visibility_timeout = 2
    time.sleep(max(0.0, sending["started_at"] + visibility_timeout + 0.5 - time.time()))
    second = start_worker(env={"CELERY_VISIBILITY_TIMEOUT": str(visibility_timeout)})

    # then it runs both the redelivered task and the sweeper's: one sends, the other finds the
    # email sent. Exactly one message, the row sent after two attempts (the killed one counts).
    def both_ran() -> dict[str, str] | None:
        results = second.task_results(SEND)
        return results if len(results) == 2 else None

    results = wait_for(both_ran, "the redelivered task and the sweeper's to run", workers=[second])
    assert sending["task_id"] in results, "the killed task was not redelivered"
    assert sorted(results.values()) == ["False", "True"]
    (email,) = outbox(wash)
    assert (email.status, email.attempts) == (EmailStatus.SENT, 2)
    (message,) = mail.sent()
    assert booking.code in message["Subject"]
    assert len(mail.sending()) == 2  # the killed attempt and the one that went through


class RolledBack(Exception):
    pass


def test_a_booking_rolled_back_sends_nothing(wash, start_worker, mail):
    worker = start_worker()

    # Given a booking whose transaction fails after the email was written
    with pytest.raises(RolledBack), scope(organization=wash.organization), transaction.atomic():
        lost = book(wash)
        assert len(outbox(wash)) == 1
        raise RolledBack

    # then there is no email, and nothing for the sweeper to queue
    assert outbox(wash) == []
    assert outbox_sweep() == 0

    # When another booking commits: the worker takes tasks in order, so once it has sent this
    # one, anything queued for the first would have been run too.
    with scope(organization=wash.organization):
        kept = book(wash, starts_at=EIGHT + timedelta(hours=1))
    wait_for(lambda: worker.task_results(SEND), "the email task to run", workers=[worker])

    # then only the committed booking's email exists and was sent
    (email,) = outbox(wash)
    assert (email.booking_id, email.status) == (kept.pk, EmailStatus.SENT)
    (message,) = mail.sent()
    assert kept.code in message["Subject"] and lost.code not in message["Subject"]
    assert list(worker.task_results(SEND).values()) == ["True"]

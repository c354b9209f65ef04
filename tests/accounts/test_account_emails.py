"""The accounts app's email outbox: sent once, failures recorded and retried, lost ones swept."""

from datetime import timedelta
from smtplib import SMTPServerDisconnected

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

from accounts import tasks
from accounts.models import AccountEmail, AccountEmailKind, EmailStatus
from accounts.notifications import account_email_deliver
from tests.factories import UserFactory


class FailingBackend(BaseEmailBackend):
    def send_messages(self, messages):
        raise SMTPServerDisconnected("the relay hung up")


@pytest.fixture
def email(db):
    return AccountEmail.objects.create(
        user=UserFactory(email="ann@example.com"),
        kind=AccountEmailKind.PASSWORD_RESET,
        to="ann@example.com",
    )


def test_an_email_delivered_twice_is_sent_once(email):
    assert account_email_deliver(email.pk) is True
    assert account_email_deliver(email.pk) is False

    (message,) = mail.outbox
    assert message.extra_headers["Message-ID"].startswith(f"<account-email-{email.pk}@")
    email.refresh_from_db()
    assert (email.status, email.attempts) == (EmailStatus.SENT, 1)


def test_a_failure_is_recorded_and_the_sweeper_sends_it_later(email, settings):
    settings.EMAIL_BACKEND = f"{__name__}.FailingBackend"

    assert tasks.account_email_send.delay(email_id=email.pk).get() is False

    email.refresh_from_db()
    assert (email.status, email.attempts) == (EmailStatus.PENDING, 1)
    assert "hung up" in email.last_error
    assert email.next_attempt_at > timezone.now()

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert tasks.account_outbox_sweep() == 0  # not due yet
    with time_machine.travel(email.next_attempt_at + timedelta(minutes=2)):
        assert tasks.account_outbox_sweep() == 1
    email.refresh_from_db()
    assert email.status == EmailStatus.SENT
    assert len(mail.outbox) == 1


def test_an_email_to_an_address_the_account_no_longer_has_is_not_sent(email):
    email.user.email = "new@example.com"
    email.user.save(update_fields=["email"])

    assert account_email_deliver(email.pk) is False

    email.refresh_from_db()
    assert email.status == EmailStatus.FAILED
    assert mail.outbox == []

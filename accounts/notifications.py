"""Emails to a person about their account (verification, password reset, an invitation to join
an organization's staff), through an outbox.

The same pattern as the booking emails (bookings/notifications.py): `account_email_queue` writes
an AccountEmail row inside the caller's transaction and queues its task on commit, so an email
exists exactly when what asked for it committed; `account_email_deliver` holds the row's lock
while it sends and marks it sent in the same transaction, so a task delivered twice sends once;
failures are retried by the task, and `accounts.tasks.account_outbox_sweep` re-queues lost ones.

The difference: the links are made when the email is sent and are never stored. A password
reset token is as good as the password, and the row outlives the email.
"""

import logging
from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import AccountEmail, AccountEmailKind, User
from accounts.outbox import (
    outbox_claim_end,
    outbox_deliver,
    outbox_publish,
    outbox_record_failure,
)

logger = logging.getLogger(__name__)

VERIFICATION_SALT = "accounts.email-verification"

SUBJECTS = {
    AccountEmailKind.EMAIL_VERIFICATION: "Confirm your email address",
    AccountEmailKind.PASSWORD_RESET: "Choose a new password",
    AccountEmailKind.STAFF_INVITATION: "You have been invited to the booking platform",
}
# Each kind's body; an invitation's link is a password reset's: the new member chooses one.
TEMPLATES = {
    AccountEmailKind.EMAIL_VERIFICATION: "accounts/email/verification.txt",
    AccountEmailKind.PASSWORD_RESET: "accounts/email/password_reset.txt",
    AccountEmailKind.STAFF_INVITATION: "accounts/email/invitation.txt",
}


def verification_token(user: User) -> str:
    """A signed, timestamped token naming the user and the address it was sent to, so it stops
    working if the account's email changes; checked with `verification_token_user`."""
    return signing.TimestampSigner(salt=VERIFICATION_SALT).sign_object(
        {"user": user.pk, "email": user.email}
    )


def verification_token_user(token: str) -> User | None:
    """The active user a verification token was made for; None if forged, expired or stale."""
    try:
        claims = signing.TimestampSigner(salt=VERIFICATION_SALT).unsign_object(
            token, max_age=settings.ACCOUNT_EMAIL_VERIFICATION_MAX_AGE
        )
        user = User.objects.filter(pk=claims["user"], is_active=True).first()
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    if user is None or user.email != claims["email"]:
        return None
    return user


def password_reset_uid(user: User) -> str:
    return urlsafe_base64_encode(force_bytes(user.pk))


def _link(user: User, kind: str) -> str:
    if kind in (AccountEmailKind.PASSWORD_RESET, AccountEmailKind.STAFF_INVITATION):
        # Django's own page takes it too (/accounts/reset/...), so the link works in a browser;
        # an app that opens such links posts uid and token to /api/v1/auth/password-reset/confirm/.
        path = reverse(
            "password_reset_confirm",
            kwargs={
                "uidb64": password_reset_uid(user),
                "token": default_token_generator.make_token(user),
            },
        )
    else:
        path = reverse("verify-email", kwargs={"token": verification_token(user)})
    return f"{settings.SITE_URL}{path}"


def account_email_queue(*, user: User, kind: str) -> AccountEmail:
    """Record an email to the user; it is sent after the commit. Call inside the transaction."""
    email = AccountEmail.objects.create(
        user=user, kind=kind, to=user.email, next_attempt_at=outbox_claim_end()
    )
    _send_after_commit(email)
    return email


def _send_after_commit(email: AccountEmail) -> None:
    # Imported here: the task module imports this one.
    from accounts.tasks import account_email_send

    transaction.on_commit(
        # One short try: a broker down must neither fail nor slow the request (accounts.outbox).
        lambda: outbox_publish(account_email_send, email_id=email.pk),
        robust=True,
    )


def _message(email: AccountEmail) -> EmailMessage:
    context = {"user": email.user, "link": _link(email.user, email.kind), "kind": email.kind}
    if email.kind == AccountEmailKind.EMAIL_VERIFICATION:
        context["valid_days"] = settings.ACCOUNT_EMAIL_VERIFICATION_MAX_AGE.days
    else:
        context["valid_days"] = settings.PASSWORD_RESET_TIMEOUT // 86400
    domain = urlsplit(settings.SITE_URL).hostname or "localhost"
    return EmailMessage(
        subject=SUBJECTS[email.kind],
        body=render_to_string(TEMPLATES[email.kind], context),
        to=[email.to],
        headers={"Message-ID": f"<account-email-{email.pk}@{domain}>"},
    )


def _address_gone(email: AccountEmail) -> str:
    """Why not to send: the account was deleted, or its email changed meanwhile."""
    if not email.user.is_active or email.user.email != email.to:
        return "The account no longer has this address."
    return ""


def account_email_deliver(email_id: int) -> bool:
    """Send a pending email and mark it sent; False if it is already sent, or its address is
    no longer the account's."""
    return outbox_deliver(
        AccountEmail.objects.select_related("user"),
        email_id,
        message=_message,
        refusal=_address_gone,
    )


def account_email_record_failure(
    email_id: int, error: Exception, *, retry_at: datetime | None
) -> None:
    """Note a failed attempt; without `retry_at` the email has failed for good."""
    outbox_record_failure(AccountEmail.objects.all(), email_id, error, retry_at=retry_at)

"""Emails to customers about their bookings, through a transactional outbox.

A service that changes a booking calls `email_queue` inside its transaction: the email is
stored as an OutboxEmail row, so it exists exactly when the change commits, and a Celery task is
queued once the commit is done (`bookings.tasks.outbox_email_send`). The row holds a snapshot of
the booking as the event left it (`email_snapshot`); the text, HTML and .ics are rendered from it
by the worker at send time (`email_render`), not in the customer's request, and stored on the row
then. Delivery (`email_deliver`) holds the row's lock while it renders and sends and marks it
sent in the same transaction, so two deliveries of one task, or a task and the sweeper's re-queue
of it, send it once. Each
email carries an .ics event whose UID is the booking's and whose SEQUENCE is its version, so a
calendar updates the same event on a reschedule and removes it on a cancellation.
"""

import logging
from datetime import UTC, datetime
from email.mime.text import MIMEText
from urllib.parse import urlsplit

import icalendar
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Max, Q
from django.db.models.functions import Least
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import Organization
from accounts.outbox import (
    outbox_claim_end,
    outbox_deliver,
    outbox_max_attempts,
    outbox_publish,
    outbox_record_failure,
)
from bookings.manage_links import manage_url
from bookings.models import (
    Booking,
    BookingStatus,
    EmailKind,
    EmailStatus,
    OutboxEmail,
)
from bookings.policy import RELEASING_STATUSES, UPCOMING_STATUSES

logger = logging.getLogger(__name__)

HEADLINES = {
    EmailKind.CONFIRMATION: "Thank you for your booking",
    EmailKind.CONFIRMED: "Your booking is confirmed",
    EmailKind.CHANGE: "Your booking has changed",
    EmailKind.CANCELLATION: "Your booking is cancelled",
    EmailKind.REMINDER: "See you soon",
}


def _site_domain() -> str:
    return urlsplit(settings.SITE_URL).hostname or "localhost"


def booking_calendar(booking: Booking, *, now: datetime | None = None) -> str:
    """The booking as an iCalendar event: a request, or a cancel once it is cancelled.

    The UID stays the booking's for life and SEQUENCE is its version, which every change bumps,
    so calendars apply each email over the previous one.
    """
    cancelled = booking.status in RELEASING_STATUSES
    organization, location, customer = booking.organization, booking.location, booking.customer
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Booking platform//Bookings//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "REQUEST")

    event = icalendar.Event()
    event.add("uid", f"booking-{booking.code}@{_site_domain()}")
    event.add("sequence", booking.version)
    event.add("dtstamp", now or timezone.now())
    # In UTC whatever zone the caller gave the times in: icalendar writes any other zone as a
    # TZID, which needs a VTIMEZONE we do not send (and a fixed offset would not parse back).
    event.add("dtstart", booking.starts_at.astimezone(UTC))
    event.add("dtend", booking.ends_at.astimezone(UTC))
    event.add("summary", f"{booking.service.name} at {organization.name}")
    event.add(
        "location",
        f"{location.name}, {location.street_address}, {location.postal_code} {location.city}",
    )
    event.add("description", f"Confirmation code {booking.code}. Manage: {manage_url(booking)}")
    event.add(
        "status",
        "CANCELLED"
        if cancelled
        else "TENTATIVE"
        if booking.status == BookingStatus.PENDING
        else "CONFIRMED",
    )
    organizer = icalendar.vCalAddress(
        f"mailto:{organization.contact_email or settings.DEFAULT_FROM_EMAIL}"
    )
    organizer.params["cn"] = organization.name
    event.add("organizer", organizer)
    # No name: the file is also served to whoever made the booking, and a guest who typed an
    # existing customer's email must not learn the name the business has on record.
    attendee = icalendar.vCalAddress(f"mailto:{customer.email}")
    attendee.params["role"] = "REQ-PARTICIPANT"
    event.add("attendee", attendee)
    calendar.add_component(event)
    return calendar.to_ical().decode()


# The booking's own fields an email shows, as they were at the event it is about: a later
# change must not rewrite an email still waiting to be sent (the .ics SEQUENCE is the version).
SNAPSHOT_FIELDS = (
    "code",
    "version",
    "status",
    "starts_at",
    "ends_at",
    "resource_id",
    "total_price",
    "currency",
    "cancellation_reason",
)


def email_snapshot(booking: Booking) -> dict[str, str | None]:
    fields = {field.attname: field for field in Booking._meta.concrete_fields}
    return {
        name: None if getattr(booking, name) is None else fields[name].value_to_string(booking)
        for name in SNAPSHOT_FIELDS
    }


def email_row(booking: Booking, *, kind: str, event_key: str) -> OutboxEmail | None:
    """The unsaved outbox row of this event; None if the customer gave no email (a walk-in).

    Cheap on purpose (no rendering, no query beyond the loaded booking): it is written inside
    the booking's transaction.
    """
    if not booking.customer.email:
        return None
    return OutboxEmail(
        organization_id=booking.organization_id,
        booking=booking,
        kind=kind,
        event_key=event_key,
        to=booking.customer.email,
        subject=f"{HEADLINES[kind]}: {booking.service.name}, {booking.code}",
        snapshot=email_snapshot(booking),
        # Held by the task queued at the commit; the sweep queues it if that is lost.
        next_attempt_at=outbox_claim_end(),
    )


def email_queue(booking: Booking, *, kind: str, event_key: str) -> OutboxEmail | None:
    """Record the email about this event of the booking; it is sent after the commit.

    Call inside the transaction that makes the change. None if this event was already emailed
    (one email per `event_key` of a booking), or if the customer gave no email (a walk-in).
    """
    if not booking.customer.email or _event_already_emailed(booking, event_key):
        return None
    email = email_row(booking, kind=kind, event_key=event_key)
    email.save(force_insert=True)
    email_send_after_commit(email)
    return email


def email_render(email: OutboxEmail) -> None:
    """Fill in the text, HTML and .ics of an email from its snapshot (the worker's job).

    The organization, location, customer, service and resource are read as they are now; the
    booking's own fields as the event left them. An email without a snapshot was rendered when
    it was written, and an erased one stays erased.
    """
    if email.snapshot is None or email.body_text:
        return
    booking = (
        Booking.objects.select_related("organization", "location", "customer", "service")
        .filter(pk=email.booking_id)
        .get()
    )
    fields = {field.attname: field for field in Booking._meta.concrete_fields}
    for name, value in email.snapshot.items():
        setattr(booking, name, None if value is None else fields[name].to_python(value))
    location = booking.location
    context = {
        "booking": booking,
        "organization": booking.organization,
        "location": location,
        "customer": booking.customer,
        "kind": email.kind,
        "headline": HEADLINES[email.kind],
        "manage_url": manage_url(booking),
    }
    with timezone.override(location.time_zone):
        email.body_text = render_to_string("bookings/email/booking.txt", context)
        email.body_html = render_to_string("bookings/email/booking.html", context)
    email.calendar = booking_calendar(booking)


def _event_already_emailed(booking: Booking, event_key: str) -> bool:
    """Whether this event of the booking has its email, asked under the booking's row lock.

    The outbox is partitioned by month (config/partitioning.py), so no unique constraint can
    say "one email per event". The lock says it instead: a second writer of the same event waits
    here until the first commits (or rolls back), and its check then sees the first one's row.
    The services changing a booking hold this lock already; reminders take it here.
    """
    list(Booking.objects.select_for_update(of=("self",)).filter(pk=booking.pk).values_list("pk"))
    return OutboxEmail.objects.filter(booking_id=booking.pk, event_key=event_key).exists()


def email_send_after_commit(email: OutboxEmail) -> None:
    # Imported here: the task module imports this one.
    from bookings.tasks import outbox_email_send

    transaction.on_commit(
        # One short try (accounts.outbox): a broker that is down must neither fail nor slow
        # the booking; the sweep queues the email once its claim runs out.
        lambda: outbox_publish(
            outbox_email_send, organization_id=email.organization_id, email_id=email.pk
        ),
        robust=True,
    )


def _message(email: OutboxEmail) -> EmailMultiAlternatives:
    if not email.body_text:
        email_render(email)
        # Kept with the row (under the delivery's lock): the admin shows what was sent.
        email.save(update_fields=["body_text", "body_html", "calendar"])
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.body_text,
        to=[email.to],
        reply_to=[email.booking.organization.contact_email]
        if email.booking.organization.contact_email
        else None,
        # The same Message-ID on every attempt, so a receiver can tell a duplicate.
        headers={"Message-ID": f"<outbox-{email.pk}@{_site_domain()}>"},
    )
    message.attach_alternative(email.body_html, "text/html")
    # Mail clients offer "add to calendar" for a text/calendar part that names its method.
    invitation = MIMEText(email.calendar, "calendar", "utf-8")
    invitation.set_param("method", str(icalendar.Calendar.from_ical(email.calendar)["method"]))
    invitation.add_header("Content-Disposition", "attachment", filename="booking.ics")
    message.attach(invitation)
    return message


def email_deliver(email_id: int) -> bool:
    """Send a pending email and mark it sent; False if it is already sent (or gone).

    The row stays locked from the check until the commit (accounts.outbox), so a second
    delivery of the same email waits and then finds it sent. If the process dies while
    sending, the transaction rolls back and the email stays pending for the retry.
    """
    return outbox_deliver(
        OutboxEmail.objects.select_related("booking__organization"), email_id, message=_message
    )


def email_record_failure(email_id: int, error: Exception, *, retry_at: datetime | None) -> None:
    """Note a failed attempt; without `retry_at` the email has failed for good."""
    outbox_record_failure(OutboxEmail.objects.all(), email_id, error, retry_at=retry_at)


def email_send_again(email: OutboxEmail) -> bool:
    """Queue a failed (or stuck pending) email again, for staff who fixed the cause; False if
    it was sent meanwhile. Its attempts so far stay counted, but it always gets one more."""
    with transaction.atomic():
        requeued = OutboxEmail.objects.filter(
            pk=email.pk, status__in=[EmailStatus.FAILED, EmailStatus.PENDING]
        ).update(
            status=EmailStatus.PENDING,
            next_attempt_at=outbox_claim_end(),
            attempts=Least(F("attempts"), outbox_max_attempts() - 1),
        )
        if requeued:
            email_send_after_commit(email)
    return bool(requeued)


def reminders_queue(*, organization: Organization, now: datetime | None = None) -> int:
    """Queue a reminder for each booking starting within the organization's lead time whose
    customer has not heard from us since that window opened (a booking made or moved inside it
    has just had its own email). Returns how many were queued."""
    now = now or timezone.now()
    lead = organization.reminder_lead_time
    due = (
        Booking.objects.filter(
            organization=organization,
            status__in=UPCOMING_STATUSES,
            starts_at__gt=now,
            starts_at__lte=now + lead,
        )
        .annotate(last_emailed_at=Max("emails__created_at"))
        .filter(Q(last_emailed_at__isnull=True) | Q(last_emailed_at__lt=F("starts_at") - lead))
        .select_related("organization", "location", "customer", "service")
    )
    queued = 0
    for booking in due:
        with transaction.atomic():
            if email_queue(
                booking,
                kind=EmailKind.REMINDER,
                event_key=f"reminder:{booking.starts_at:%Y%m%dT%H%M%SZ}",
            ):
                queued += 1
    return queued

"""Customer emails through the outbox, against real PostgreSQL: written in the booking's
transaction, sent once after the commit, retried, swept, reminded, and rendered in local time.

Celery runs eagerly in tests (config/settings/test.py) and mail goes to `django.core.mail.outbox`.
The test's own transaction never commits, so `django_capture_on_commit_callbacks` stands in for
the commit wherever the email must go out.
"""

import re
import threading
import time
from datetime import UTC, datetime, timedelta
from smtplib import SMTPServerDisconnected
from unittest import mock
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import icalendar
import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import DatabaseError, connection, transaction
from django.urls import resolve
from django_scopes import scope, scopes_disabled

from accounts.models import Membership, Organization, Role, User
from accounts.signals import account_erased
from bookings import notifications, tasks
from bookings.errors import SlotUnavailable
from bookings.manage_links import booking_for_manage_token
from bookings.models import Booking, BookingStatus, EmailKind, EmailStatus, OutboxEmail
from bookings.services import booking_cancel, booking_confirm, booking_reschedule
from tests.factories import OrganizationFactory
from tests.scenarios import EIGHT, HELSINKI, CarWash, book

HOUR = timedelta(hours=1)


class FailingBackend(BaseEmailBackend):
    """A mail relay that hangs up on every message."""

    def send_messages(self, messages):
        raise SMTPServerDisconnected("the relay hung up")


FAILING_BACKEND = f"{__name__}.FailingBackend"


@pytest.fixture
def in_wash(wash):
    with scope(organization=wash.organization):
        yield wash


def queued(booking: Booking) -> list[OutboxEmail]:
    return list(OutboxEmail.objects.filter(booking=booking).order_by("created_at", "pk"))


def calendar_of(message) -> icalendar.Calendar:
    (attachment,) = message.attachments
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_filename() == "booking.ics"
    calendar = icalendar.Calendar.from_ical(attachment.get_payload(decode=True))
    # the part names the calendar's method, which mail clients need to offer "add to calendar"
    assert attachment.get_param("method") == str(calendar["method"])
    return calendar


def event_of(message) -> icalendar.Event:
    (event,) = calendar_of(message).walk("VEVENT")
    return event


def reschedule(booking: Booking, starts_at: datetime) -> Booking:
    booking.refresh_from_db()
    return booking_reschedule(
        actor=_owner(booking),
        booking=booking,
        expected_version=booking.version,
        starts_at=starts_at,
    )


def _owner(booking: Booking) -> User:
    """The business's owner: staff may move or cancel a booking past the customers' cut-off."""
    with scopes_disabled():
        return Membership.objects.get(organization=booking.organization, role=Role.OWNER).user


def cancel(booking: Booking, reason: str = "") -> Booking:
    booking.refresh_from_db()
    return booking_cancel(
        actor=_owner(booking), booking=booking, expected_version=booking.version, reason=reason
    )


def send(email: OutboxEmail):
    """Run the email's task as the commit would queue it (eagerly); its result."""
    return tasks.outbox_email_send.delay(
        organization_id=email.organization_id, email_id=email.pk
    ).get()


# --- Written in the booking's transaction ---------------------------------------------------


def test_a_booking_writes_one_pending_confirmation_sent_only_after_the_commit(
    in_wash, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        booking = book(in_wash)

    (email,) = queued(booking)
    assert email.kind == EmailKind.CONFIRMATION
    assert email.to == in_wash.customer.email
    assert email.status == EmailStatus.PENDING
    assert (email.attempts, email.sent_at) == (0, None)
    assert booking.code in email.subject
    assert mail.outbox == []  # nothing goes out before the commit

    for callback in callbacks:  # the commit
        callback()

    email.refresh_from_db()
    assert email.status == EmailStatus.SENT
    assert [m.to for m in mail.outbox] == [[in_wash.customer.email]]


def test_a_rolled_back_booking_leaves_no_email_and_sends_nothing(
    in_wash, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        booking = book(in_wash)
        assert OutboxEmail.objects.filter(booking=booking).count() == 1
        raise RuntimeError("the work around the booking failed")

    assert callbacks == []
    assert not OutboxEmail.objects.exists()
    assert not Booking.objects.exists()
    assert mail.outbox == []


def test_a_refused_booking_writes_no_email(in_wash, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        book(in_wash, resource=in_wash.bay1)
        with pytest.raises(SlotUnavailable):
            book(in_wash, resource=in_wash.bay1)
    assert OutboxEmail.objects.count() == 1
    assert len(mail.outbox) == 1


def test_each_change_writes_its_own_email_once(in_wash, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        booking = book(in_wash)
        booking = booking_confirm(actor=None, booking=booking, expected_version=booking.version)
        booking = reschedule(booking, EIGHT + 2 * HOUR)
        booking = cancel(booking, reason="Flu")
    assert [(e.kind, e.event_key) for e in queued(booking)] == [
        (EmailKind.CONFIRMATION, "created"),
        (EmailKind.CONFIRMED, "confirmed"),  # the business confirmed it: the customer is told
        (EmailKind.CHANGE, "rescheduled:3"),
        (EmailKind.CANCELLATION, "cancelled"),
    ]
    assert len(mail.outbox) == 4
    # The same event again (a retried service call that got this far) is not emailed twice.
    again = notifications.email_queue(booking, kind=EmailKind.CANCELLATION, event_key="cancelled")
    assert again is None
    assert OutboxEmail.objects.filter(booking=booking).count() == 4


# --- Sent once -------------------------------------------------------------------------------


def test_the_sent_email_has_text_html_and_the_calendar_and_the_row_is_marked_sent(
    in_wash, fixed_now, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        booking = book(in_wash)

    (message,) = mail.outbox
    (email,) = queued(booking)
    assert message.to == [in_wash.customer.email]
    assert message.subject == email.subject
    assert message.body == email.body_text
    assert [tuple(a) for a in message.alternatives] == [(email.body_html, "text/html")]
    assert calendar_of(message) == icalendar.Calendar.from_ical(email.calendar)
    raw = message.message().as_string()
    assert 'text/calendar; charset="utf-8"; method="REQUEST"' in raw
    assert 'filename="booking.ics"' in raw

    assert email.status == EmailStatus.SENT
    assert email.sent_at == fixed_now
    assert (email.attempts, email.last_error) == (1, "")


def test_delivering_a_sent_email_again_sends_nothing(in_wash, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        booking = book(in_wash)
    (email,) = queued(booking)

    assert notifications.email_deliver(email.pk) is False
    assert send(email) is False
    assert len(mail.outbox) == 1
    email.refresh_from_db()
    assert email.attempts == 1


def test_the_send_task_run_twice_sends_once(in_wash, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        booking = book(in_wash)
    (email,) = queued(booking)

    assert [send(email), send(email)] == [True, False]
    assert len(mail.outbox) == 1


def test_the_send_task_does_not_reach_across_tenants(in_wash, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        booking = book(in_wash)
    (email,) = queued(booking)
    stranger = OrganizationFactory()

    result = tasks.outbox_email_send.delay(organization_id=stranger.pk, email_id=email.pk).get()

    assert result is False
    assert mail.outbox == []
    email.refresh_from_db()
    assert email.status == EmailStatus.PENDING


# --- The .ics attachment ---------------------------------------------------------------------


def test_the_calendar_follows_the_booking_through_reschedule_and_cancel(
    in_wash, django_capture_on_commit_callbacks
):
    later = EIGHT + timedelta(days=1, hours=2)
    with django_capture_on_commit_callbacks(execute=True):
        booking = book(in_wash)
        booking = reschedule(booking, later)
        booking = cancel(booking)

    confirmation, change, cancellation = mail.outbox
    calendars = [calendar_of(m) for m in mail.outbox]
    events = [event_of(m) for m in mail.outbox]

    assert [str(c["method"]) for c in calendars] == ["REQUEST", "REQUEST", "CANCEL"]
    assert len({str(e["uid"]) for e in events}) == 1
    assert booking.code in str(events[0]["uid"])
    sequences = [int(e["sequence"]) for e in events]
    assert sequences == sorted(set(sequences))  # strictly increasing
    assert sequences[-1] == booking.version
    # a new booking is pending until the business confirms it: tentative in the calendar
    assert [str(e["status"]) for e in events] == ["TENTATIVE", "TENTATIVE", "CANCELLED"]
    assert [(e.decoded("dtstart"), e.decoded("dtend")) for e in events] == [
        (EIGHT, EIGHT + HOUR),
        (later, later + HOUR),
        (later, later + HOUR),
    ]
    assert (confirmation.subject, change.subject, cancellation.subject) == tuple(
        f"{headline}: {booking.service.name}, {booking.code}"
        for headline in (
            "Thank you for your booking",
            "Your booking has changed",
            "Your booking is cancelled",
        )
    )


@pytest.mark.parametrize(
    "given_in",
    [
        pytest.param(UTC, id="utc"),
        pytest.param(HELSINKI, id="location-zone"),
        pytest.param(ZoneInfo("America/New_York"), id="another-zone"),
        pytest.param(datetime.fromisoformat("2030-01-07T10:00+02:00").tzinfo, id="fixed-offset"),
    ],
)
def test_the_calendar_times_are_utc_whatever_zone_the_times_came_in(
    in_wash, given_in, django_capture_on_commit_callbacks
):
    # The API and the pages may hand the services times in any zone; the .ics says UTC ("Z"),
    # since a TZID would need a VTIMEZONE the email does not carry.
    later = EIGHT + timedelta(days=1)
    with django_capture_on_commit_callbacks(execute=True):
        booking = book(in_wash, starts_at=EIGHT.astimezone(given_in))
        reschedule(booking, later.astimezone(given_in))

    for message, starts_at in zip(mail.outbox, (EIGHT, later), strict=True):
        event = event_of(message)
        assert event.decoded("dtstart") == starts_at
        assert event.decoded("dtstart").utcoffset() == timedelta(0)
        assert event.decoded("dtend") == starts_at + HOUR
        ics = calendar_of(message).to_ical().decode()
        assert f"DTSTART:{starts_at:%Y%m%dT%H%M%S}Z" in ics
        assert "TZID" not in ics


# --- Failures, retries and the sweeper -------------------------------------------------------


def test_a_failed_send_is_recorded_and_left_pending_for_a_later_attempt(
    in_wash, settings, fixed_now, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = FAILING_BACKEND
    with django_capture_on_commit_callbacks(execute=True):
        booking = book(in_wash)

    (email,) = queued(booking)
    assert mail.outbox == []
    assert email.status == EmailStatus.PENDING
    assert email.attempts == 1
    assert "the relay hung up" in email.last_error
    # Backoff, then the claim the retry holds before the sweep counts it lost.
    claim = settings.EMAIL_SEND_CLAIM_SECONDS
    assert email.next_attempt_at >= fixed_now + timedelta(seconds=claim)
    assert email.next_attempt_at <= fixed_now + timedelta(
        seconds=claim + settings.EMAIL_RETRY_BACKOFF_SECONDS
    )

    # A second failed attempt counts too.
    assert send(email) is False
    email.refresh_from_db()
    assert (email.status, email.attempts) == (EmailStatus.PENDING, 2)


def test_the_email_s_own_attempts_decide_when_to_give_up_not_celery_s_retry_count(
    in_wash, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = FAILING_BACKEND
    with django_capture_on_commit_callbacks(execute=False):
        booking = book(in_wash)
    (email,) = queued(booking)
    last = settings.EMAIL_MAX_RETRIES + 1

    # A task far into Celery's retries (as if it had been retried many times) tries again,
    # since the email itself has been tried only once before
    OutboxEmail.objects.filter(pk=email.pk).update(attempts=1)
    late_task = tasks.outbox_email_send.apply(
        kwargs={"organization_id": email.organization_id, "email_id": email.pk},
        retries=settings.EMAIL_MAX_RETRIES + 5,
    )
    assert late_task.get() is False
    email.refresh_from_db()
    assert (email.status, email.attempts) == (EmailStatus.PENDING, 2)

    # and a fresh task (the sweep's: Celery's count at 0) gives up at the email's last attempt.
    OutboxEmail.objects.filter(pk=email.pk).update(attempts=last - 1)
    assert send(email) is False
    email.refresh_from_db()
    assert (email.status, email.attempts) == (EmailStatus.FAILED, last)
    assert "the relay hung up" in email.last_error

    # A failed email is not sent by a late duplicate of its task.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert send(email) is False
    assert mail.outbox == []


def test_an_email_whose_attempts_were_all_cut_short_is_given_up_at_its_next_claim(
    in_wash, django_capture_on_commit_callbacks
):
    # given an email every attempt of which was interrupted (a worker killed mid-send each
    # time: no failure was ever recorded, only the attempts counted at each claim)
    with django_capture_on_commit_callbacks(execute=False):
        booking = book(in_wash)
    (email,) = queued(booking)
    OutboxEmail.objects.filter(pk=email.pk).update(attempts=settings.EMAIL_MAX_RETRIES + 1)

    # when a task comes round again, it gives up instead of sending (or crashing) once more
    assert send(email) is False

    email.refresh_from_db()
    assert email.status == EmailStatus.FAILED
    assert email.last_error.startswith(f"Gave up after {settings.EMAIL_MAX_RETRIES + 1} attempts")
    assert mail.outbox == []


def test_recording_a_failure_without_a_retry_time_fails_the_email(
    in_wash, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        booking = book(in_wash)
    (email,) = queued(booking)

    notifications.email_record_failure(email.pk, ConnectionError("refused"), retry_at=None)

    # (attempts are counted when a send claims the email, not when its failure is noted)
    email.refresh_from_db()
    assert (email.status, email.attempts) == (EmailStatus.FAILED, 0)
    assert "refused" in email.last_error
    assert notifications.email_deliver(email.pk) is False
    assert mail.outbox == []


def test_a_failure_recorded_late_does_not_touch_a_sent_email(
    in_wash, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        booking = book(in_wash)
    (email,) = queued(booking)

    notifications.email_record_failure(email.pk, ConnectionError("late"), retry_at=None)

    email.refresh_from_db()
    assert (email.status, email.attempts, email.last_error) == (EmailStatus.SENT, 1, "")


def other_shop() -> CarWash:
    """A second organization with bookable bays, to see the sweeper cross tenants."""
    return CarWash("Other", "other-shop")


def test_the_sweeper_requeues_only_pending_emails_whose_claim_ran_out(
    wash, fixed_now, django_capture_on_commit_callbacks
):
    other = other_shop()
    # given emails whose tasks were lost (nothing ran after the commit)...
    with django_capture_on_commit_callbacks(execute=False):
        with scope(organization=wash.organization):
            lost = book(wash)
            sent = book(wash, starts_at=EIGHT + HOUR)
            failed = book(wash, starts_at=EIGHT + 2 * HOUR)
        with scope(organization=other.organization):
            lost_elsewhere = book(other)
    with scope(organization=wash.organization):
        # ...one that went out after all, and one that failed for good
        (sent_email,) = queued(sent)
        assert send(sent_email) is True
        (failed_email,) = queued(failed)
        notifications.email_record_failure(failed_email.pk, ConnectionError("x"), retry_at=None)
    mail.outbox.clear()

    # when the sweeper runs while the claim of their commit's task lasts, it leaves them be
    claim = timedelta(seconds=settings.EMAIL_SEND_CLAIM_SECONDS)
    for moment in (fixed_now, fixed_now + claim - timedelta(seconds=1)):
        with time_machine.travel(moment, tick=False):
            assert tasks.outbox_sweep.delay().get() == 0
    assert mail.outbox == []

    # then, once it ran out, the lost ones of both organizations are sent
    with time_machine.travel(fixed_now + claim + timedelta(seconds=1), tick=False):
        assert tasks.outbox_sweep.delay().get() == 2
        assert tasks.outbox_sweep.delay().get() == 0

    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [wash.customer.email, other.customer.email]
    )
    with scopes_disabled():
        statuses = {e.booking_id: (e.status, e.attempts) for e in OutboxEmail.objects.all()}
    assert statuses == {
        lost.pk: (EmailStatus.SENT, 1),
        lost_elsewhere.pk: (EmailStatus.SENT, 1),
        sent.pk: (EmailStatus.SENT, 1),
        failed.pk: (EmailStatus.FAILED, 0),  # failed by hand, never claimed
    }


def test_the_sweeper_retries_a_failed_attempt_once_its_time_has_come(
    in_wash, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = FAILING_BACKEND
    with django_capture_on_commit_callbacks(execute=True):
        booking = book(in_wash)
    (email,) = queued(booking)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    # (next_attempt_at: the retry's time plus the claim it holds)
    with time_machine.travel(email.next_attempt_at - timedelta(seconds=1), tick=False):
        assert tasks.outbox_sweep.delay().get() == 0
    with time_machine.travel(email.next_attempt_at + timedelta(seconds=1), tick=False):
        assert tasks.outbox_sweep.delay().get() == 1

    email.refresh_from_db()
    assert (email.status, email.attempts, email.last_error) == (EmailStatus.SENT, 2, "")
    assert len(mail.outbox) == 1


def test_sending_again_requeues_a_failed_email_and_it_is_sent(
    in_wash, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        booking = book(in_wash)
    (email,) = queued(booking)
    notifications.email_record_failure(email.pk, ConnectionError("x"), retry_at=None)

    with django_capture_on_commit_callbacks(execute=True):
        assert notifications.email_send_again(email) is True

    email.refresh_from_db()
    assert email.status == EmailStatus.SENT
    assert len(mail.outbox) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert notifications.email_send_again(email) is False  # sent: nothing to do
    assert len(mail.outbox) == 1


# --- Reminders -------------------------------------------------------------------------------


def reminders(booking: Booking) -> list[OutboxEmail]:
    return [e for e in queued(booking) if e.kind == EmailKind.REMINDER]


@pytest.fixture
def lead(wash) -> timedelta:
    return wash.organization.reminder_lead_time


def test_a_reminder_is_queued_once_when_the_lead_time_window_opens(
    in_wash, lead, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        booking = book(in_wash)
        cancelled = cancel(book(in_wash, starts_at=EIGHT + HOUR))
        too_far = book(in_wash, starts_at=EIGHT + timedelta(days=2))
    mail.outbox.clear()
    organization = in_wash.organization

    with time_machine.travel(EIGHT - lead - timedelta(minutes=1), tick=False):
        assert notifications.reminders_queue(organization=organization) == 0
    with (
        time_machine.travel(EIGHT - lead + timedelta(minutes=1), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert notifications.reminders_queue(organization=organization) == 1
        assert notifications.reminders_queue(organization=organization) == 0
    with time_machine.travel(EIGHT - timedelta(minutes=5), tick=False):
        assert notifications.reminders_queue(organization=organization) == 0

    (reminder,) = reminders(booking)
    assert reminder.event_key == "reminder:20300107T080000Z"
    assert reminder.status == EmailStatus.SENT
    (message,) = mail.outbox
    assert message.subject.startswith("See you soon")
    assert message.to == [in_wash.customer.email]
    assert reminders(cancelled) == [] and reminders(too_far) == []


def test_the_lead_time_is_the_organizations(in_wash, django_capture_on_commit_callbacks):
    organization = in_wash.organization
    organization.reminder_lead_time = timedelta(hours=2)
    organization.save(update_fields=["reminder_lead_time"])
    booking = book(in_wash)

    with time_machine.travel(EIGHT - timedelta(hours=3), tick=False):
        assert notifications.reminders_queue(organization=organization) == 0
    with time_machine.travel(EIGHT - timedelta(hours=1), tick=False):
        assert notifications.reminders_queue(organization=organization) == 1
    assert len(reminders(booking)) == 1


def test_the_now_argument_decides_the_window(in_wash, lead):
    booking = book(in_wash)
    organization = in_wash.organization
    assert notifications.reminders_queue(organization=organization, now=EIGHT - lead - HOUR) == 0
    assert notifications.reminders_queue(organization=organization, now=EIGHT - lead + HOUR) == 1
    assert len(reminders(booking)) == 1


def test_no_reminder_for_a_booking_made_inside_the_window(in_wash, lead):
    with time_machine.travel(EIGHT - lead + HOUR, tick=False):
        booking = book(in_wash)
    with time_machine.travel(EIGHT - HOUR, tick=False):
        assert notifications.reminders_queue(organization=in_wash.organization) == 0
    assert reminders(booking) == []


def test_a_booking_moved_into_the_window_gets_no_reminder_but_one_moved_out_gets_another(
    in_wash, lead, django_capture_on_commit_callbacks
):
    organization = in_wash.organization
    far = EIGHT + timedelta(days=3)
    booking = book(in_wash, starts_at=far)

    # moved (inside the window of the new time) to EIGHT: the change email was the reminder
    with time_machine.travel(EIGHT - lead + HOUR, tick=False):
        booking = reschedule(booking, EIGHT)
    with time_machine.travel(EIGHT - HOUR, tick=False):
        assert notifications.reminders_queue(organization=organization) == 0
    assert reminders(booking) == []

    # reminded of a time, then moved two days later: reminded again when that window opens
    later = EIGHT + timedelta(days=2)
    with time_machine.travel(EIGHT - HOUR + timedelta(minutes=1), tick=False):
        booking = reschedule(booking, EIGHT + timedelta(days=1))
    with time_machine.travel(EIGHT + timedelta(days=1) - lead + HOUR, tick=False):
        assert notifications.reminders_queue(organization=organization) == 1
    with time_machine.travel(EIGHT + timedelta(days=1) - lead + 2 * HOUR, tick=False):
        booking = reschedule(booking, later)
        assert notifications.reminders_queue(organization=organization) == 0
    with time_machine.travel(later - lead - timedelta(minutes=1), tick=False):
        assert notifications.reminders_queue(organization=organization) == 0
    with time_machine.travel(later - lead + timedelta(minutes=1), tick=False):
        assert notifications.reminders_queue(organization=organization) == 1
        assert notifications.reminders_queue(organization=organization) == 0

    assert [e.event_key for e in reminders(booking)] == [
        f"reminder:{EIGHT + timedelta(days=1):%Y%m%dT%H%M%SZ}",
        f"reminder:{later:%Y%m%dT%H%M%SZ}",
    ]


def test_the_periodic_task_reminds_every_organization_end_to_end(
    wash, lead, django_capture_on_commit_callbacks
):
    other = other_shop()
    with scope(organization=wash.organization):
        booking = book(wash)
    with scope(organization=other.organization):
        other_booking = book(other)
        cancel(book(other, starts_at=EIGHT + HOUR))

    with (
        time_machine.travel(EIGHT - lead + timedelta(minutes=1), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert tasks.booking_reminders_schedule.delay().get() == Organization.objects.count()
        tasks.booking_reminders_schedule.delay().get()  # the next beat: nothing new

    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [wash.customer.email, other.customer.email]
    )
    assert all(m.subject.startswith("See you soon") for m in mail.outbox)
    with scopes_disabled():
        reminded = OutboxEmail.objects.filter(kind=EmailKind.REMINDER, status=EmailStatus.SENT)
        assert sorted(reminded.values_list("booking_id", flat=True)) == sorted(
            [booking.pk, other_booking.pk]
        )


# --- Rendering -------------------------------------------------------------------------------


def test_the_email_shows_local_time_the_code_and_a_working_manage_link(
    in_wash, django_capture_on_commit_callbacks
):
    ten_utc = datetime(2030, 1, 7, 10, tzinfo=UTC)  # 12:00 in Helsinki in January
    with django_capture_on_commit_callbacks(execute=True):
        booking = book(in_wash, starts_at=ten_utc)
    (message,) = mail.outbox
    html = message.alternatives[0][0]

    when = "Monday 7 January 2030, 12:00 to Monday 7 January 2030, 13:00 (Europe/Helsinki)"
    assert f"When: {when}" in message.body
    assert when in html
    assert f"Confirmation code: {booking.code}" in message.body
    assert booking.code in html

    (url,) = re.findall(r"https?://\S+", message.body)
    assert url.startswith(settings.SITE_URL.rstrip("/") + "/")
    assert f'href="{url}"' in html
    match = resolve(urlsplit(url).path)
    assert match.view_name == "pages:booking-manage"
    assert match.kwargs["organization_slug"] == in_wash.organization.slug
    opened = booking_for_manage_token(match.kwargs["token"], organization=in_wash.organization)
    assert opened == booking


def test_a_summer_booking_shows_summer_time(in_wash, django_capture_on_commit_callbacks):
    ten_utc = datetime(2030, 7, 1, 10, tzinfo=UTC)  # 13:00 in Helsinki (UTC+3) in July
    with (
        time_machine.travel(ten_utc - timedelta(days=30), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        book(in_wash, starts_at=ten_utc)
    (message,) = mail.outbox
    assert "Monday 1 July 2030, 13:00 to Monday 1 July 2030, 14:00" in message.body


def test_the_cancellation_email_gives_the_reason_and_no_manage_link(
    in_wash, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        cancel(book(in_wash), reason="The bay is flooded")
    cancellation = mail.outbox[-1]
    assert "is cancelled" in cancellation.body
    assert "Reason: The bay is flooded" in cancellation.body
    assert settings.SITE_URL not in cancellation.body


def test_the_html_email_escapes_what_customers_typed(in_wash, django_capture_on_commit_callbacks):
    customer = in_wash.customer
    customer.full_name = '<script>alert("x")</script>'
    customer.save(update_fields=["full_name"])
    with django_capture_on_commit_callbacks(execute=True):
        book(in_wash)
    (message,) = mail.outbox
    html = message.alternatives[0][0]
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert '<script>alert("x")</script>' in message.body  # the text part is not HTML


# --- Real concurrent connections -------------------------------------------------------------


@pytest.fixture
def committed_wash(transactional_db, fixed_now) -> CarWash:
    return CarWash()


class SlowBackend(LocmemBackend):
    """The locmem outbox behind a slow relay, so two deliveries overlap."""

    def send_messages(self, messages):
        time.sleep(0.3)
        return super().send_messages(messages)


class ProbingBackend(LocmemBackend):
    """While a message is being sent, asks another connection which rows are locked."""

    targets: dict = {}
    locked: dict = {}

    def send_messages(self, messages):
        def probe() -> None:
            try:
                with scopes_disabled():
                    for name, (model, pk) in self.targets.items():
                        try:
                            with transaction.atomic():
                                list(model.objects.select_for_update(nowait=True).filter(pk=pk))
                            self.locked[name] = False
                        except DatabaseError:
                            self.locked[name] = True
            finally:
                connection.close()

        thread = threading.Thread(target=probe)
        thread.start()
        thread.join()
        return super().send_messages(messages)


def pending_email(wash: CarWash, settings) -> tuple[Booking, OutboxEmail]:
    """A committed booking whose email's first attempt failed, so it is still pending."""
    settings.EMAIL_BACKEND = FAILING_BACKEND
    with scope(organization=wash.organization):
        booking = book(wash)
        (email,) = queued(booking)
    assert email.status == EmailStatus.PENDING
    return booking, email


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_deliveries_send_once(committed_wash, settings):
    _, email = pending_email(committed_wash, settings)
    settings.EMAIL_BACKEND = f"{__name__}.SlowBackend"
    barrier = threading.Barrier(2)
    results: list[bool] = []

    def deliver() -> None:
        try:
            with scope(organization=committed_wash.organization):
                barrier.wait()
                results.append(notifications.email_deliver(email.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [False, True]
    assert len(mail.outbox) == 1
    with scope(organization=committed_wash.organization):
        email.refresh_from_db()
    # The failed first attempt, the one that sent, and the other delivery's claim if it came
    # between the first's claim and its lock (it then waited, and found the email sent).
    assert email.status == EmailStatus.SENT
    assert email.attempts in (2, 3)


@pytest.mark.django_db(transaction=True)
def test_sending_locks_the_email_but_not_its_booking_or_organization(committed_wash, settings):
    booking, email = pending_email(committed_wash, settings)
    settings.EMAIL_BACKEND = f"{__name__}.ProbingBackend"
    ProbingBackend.targets = {
        "email": (OutboxEmail, email.pk),
        "booking": (Booking, booking.pk),
        "organization": (Organization, committed_wash.organization.pk),
    }
    ProbingBackend.locked = {}

    with scope(organization=committed_wash.organization):
        assert notifications.email_deliver(email.pk) is True

    assert ProbingBackend.locked == {"email": True, "booking": False, "organization": False}
    with scope(organization=committed_wash.organization):
        assert Booking.objects.get(pk=booking.pk).status == BookingStatus.PENDING


def test_the_sweeper_queues_an_email_nobody_picks_up_less_and_less_often(
    in_wash, fixed_now, django_capture_on_commit_callbacks
):
    # given an email whose task was lost, and no worker running what the sweeper queues
    with django_capture_on_commit_callbacks(execute=False):
        booking = book(in_wash)
    assert len(queued(booking)) == 1
    swept = []
    with mock.patch.object(
        tasks.outbox_email_send, "apply_async", side_effect=lambda **task: swept.append(task)
    ):
        for second in range(0, 12 * 60, 10):  # beat's sweep every 10 s for 12 minutes
            with time_machine.travel(fixed_now + timedelta(seconds=second), tick=False):
                tasks.outbox_sweep()
    # then it was queued once its first claim ran out (30 s), and then each time the claim,
    # as long as the email is old, ran out: at about 1, 2, 4 and 8 minutes, not 70 times
    assert 4 <= len(swept) <= 6


def test_an_erased_account_leaves_no_copy_of_its_details_in_the_outbox(in_wash):
    """accounts.account_delete sends account_erased; the engine erases its rendered emails and
    the notes the person typed, and gives up emails not yet sent. The bookings stay."""
    booking = book(in_wash, notes="Gate code 1234")
    (email,) = queued(booking)
    assert in_wash.customer.email in email.to

    account_erased.send(sender=User, user=None, customer_ids=[in_wash.customer.pk])

    email.refresh_from_db()
    booking.refresh_from_db()
    assert (email.to, email.calendar, email.status) == ("", "", EmailStatus.FAILED)
    assert in_wash.customer.email not in email.body_text + email.body_html
    assert booking.notes == "" and booking.status == BookingStatus.PENDING


def test_the_worker_renders_an_email_as_its_event_left_the_booking(
    in_wash, django_capture_on_commit_callbacks
):
    # given a confirmation still waiting when the booking is moved (both commits' tasks late)
    later = EIGHT + timedelta(days=1, hours=2)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        booking = book(in_wash)
        created_version = Booking.objects.get(pk=booking.pk).version
        reschedule(booking, later)
    confirmation = queued(booking)[0]
    assert (confirmation.body_text, confirmation.calendar) == ("", "")  # not in the request

    for callback in callbacks:
        callback()

    # the confirmation tells the time booked and its own version, and is kept as sent
    sent_first = mail.outbox[0]
    assert event_of(sent_first).decoded("dtstart") == EIGHT
    assert int(event_of(sent_first)["sequence"]) == created_version
    confirmation.refresh_from_db()
    assert confirmation.status == EmailStatus.SENT
    assert sent_first.body == confirmation.body_text
    assert event_of(mail.outbox[1]).decoded("dtstart") == later

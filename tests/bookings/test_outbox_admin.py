"""The email outbox in the admin: read only, inside the tenant wall, with "Send again"."""

from smtplib import SMTPServerDisconnected

import icalendar
import pytest
from django.core import mail
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from accounts.models import Role
from bookings import notifications
from bookings.admin.bookings import _hide_links
from bookings.manage_links import manage_token
from bookings.models import EmailKind, EmailStatus, OutboxEmail
from fleet.models import ResourceKind
from tests.factories import (
    LocationFactory,
    MembershipFactory,
    ResourceFactory,
    open_every_day,
)
from tests.scenarios import Engine

ROLES = ("owner", "manager", "staff")


class Outbox(Engine):
    """A tenant's bookings with their confirmation emails, none sent yet: one on the staff
    member's own chair and one on a bay at the first location, one at the other location.
    The bay booking's email has failed for good."""

    def __init__(self, tenant) -> None:
        # The test's transaction never commits, so no email is sent until a test says so.
        super().__init__(tenant)
        with scope(organization=tenant.organization):
            self.own_email = self.own_booking.emails.get()
            self.bay_email = self.bay_booking.emails.get()
            self.far_email = self.far_booking.emails.get()
            notifications.email_record_failure(
                self.bay_email.pk, SMTPServerDisconnected("the relay hung up"), retry_at=None
            )


@pytest.fixture
def outboxes(tenant_a, tenant_b) -> tuple[Outbox, Outbox]:
    return Outbox(tenant_a), Outbox(tenant_b)


def reloaded(email: OutboxEmail) -> OutboxEmail:
    with scopes_disabled():
        return OutboxEmail.objects.select_related("booking").get(pk=email.pk)


def changelist(client, **params):
    return client.get(reverse("admin:bookings_outboxemail_changelist"), params)


def send_again(client, *emails):
    return client.post(
        reverse("admin:bookings_outboxemail_changelist"),
        {"action": "email_send_again", "_selected_action": [e.pk for e in emails]},
        follow=True,
    )


def messages_of(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


# (url name, which email) -> expected status for (owner, manager, staff) of organization A.
MATRIX = {
    ("changelist", None): (200, 200, 200),
    ("change", "own_email"): (200, 200, 200),
    ("change", "bay_email"): (200, 200, 404),  # a staff member sees their own schedule's only
    ("change", "far_email"): (200, 404, 404),  # the manager is limited to the first location
    ("change", "other:bay_email"): (404, 404, 404),
    ("change", "other:own_email"): (404, 404, 404),
    ("add", None): (403, 403, 403),
    ("delete", "bay_email"): (403, 403, 404),
    ("delete", "other:bay_email"): (404, 404, 404),
    ("history", "far_email"): (200, 404, 404),
}


@pytest.mark.parametrize(
    ("page", "target", "role", "expected"),
    [
        pytest.param(page, target, role, statuses[i], id=f"{page}-{target}-{role}")
        for (page, target), statuses in MATRIX.items()
        for i, role in enumerate(ROLES)
    ],
)
def test_outbox_admin_permission_matrix(
    page, target, role, expected, tenant_a, outboxes, client_for
):
    args = []
    if target:
        outbox = outboxes[1] if target.startswith("other:") else outboxes[0]
        args = [getattr(outbox, target.removeprefix("other:")).pk]
    url = reverse(f"admin:bookings_outboxemail_{page}", args=args)
    assert client_for(tenant_a.user(role)).get(url).status_code == expected


def test_customers_do_not_get_into_the_outbox(tenant_a, outboxes, client_for):
    response = changelist(client_for(tenant_a.customer_user))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


@pytest.mark.parametrize(
    ("role", "visible"),
    [
        ("owner", {"own_email", "bay_email", "far_email"}),
        ("manager", {"own_email", "bay_email"}),
        ("staff", {"own_email"}),
    ],
)
def test_the_list_shows_each_role_its_emails(role, visible, tenant_a, outboxes, client_for):
    response = changelist(client_for(tenant_a.user(role)))
    assert set(response.context["cl"].result_list) == {
        getattr(outboxes[0], name) for name in visible
    }


def test_the_owner_sees_each_email_with_its_status_booking_and_recipient(
    tenant_a, outboxes, client_for
):
    mine = outboxes[0]
    response = changelist(client_for(tenant_a.owner))
    html = response.content.decode()

    assert "Failed (gave up retrying)" in html
    assert html.count("Waiting to be sent") >= 2  # the two pending rows (and the filter)
    for booking in (mine.own_booking, mine.bay_booking, mine.far_booking):
        assert booking.code in html
    assert tenant_a.customer.email in html
    assert outboxes[1].bay_booking.code not in html


def test_the_list_filters_by_status_kind_and_location(tenant_a, outboxes, client_for):
    mine = outboxes[0]
    client = client_for(tenant_a.owner)

    def listed(**params):
        return set(changelist(client, **params).context["cl"].result_list)

    assert listed(status__exact=EmailStatus.FAILED) == {mine.bay_email}
    assert listed(kind__exact=EmailKind.CONFIRMATION) == {
        mine.own_email,
        mine.bay_email,
        mine.far_email,
    }
    assert listed(kind__exact=EmailKind.REMINDER) == set()
    assert listed(booking__location__id__exact=tenant_a.other_location.pk) == {mine.far_email}


def location_choices(response) -> set[str]:
    """The location filter's choices (Django leaves out a filter with a single choice)."""
    specs = [s for s in response.context["cl"].filter_specs if s.field_path == "booking__location"]
    return {name for spec in specs for _pk, name in spec.lookup_choices}


def test_the_location_filter_offers_only_the_users_locations(tenant_a, outboxes, client_for):
    # given a third location, where the manager works too, with a booking of its own
    third = LocationFactory(organization=tenant_a.organization, name="Alpha Third")
    open_every_day(third)
    bay = ResourceFactory(location=third)
    mine = outboxes[0]
    with scopes_disabled():
        mine.service.resources.add(bay)
        tenant_a.manager_membership.locations.add(third)
    with scope(organization=tenant_a.organization):
        mine.book(bay, third)

    owner_page = changelist(client_for(tenant_a.owner))
    manager_page = changelist(client_for(tenant_a.manager))

    everywhere = {tenant_a.location.name, tenant_a.other_location.name, third.name}
    assert location_choices(owner_page) == everywhere
    assert location_choices(manager_page) == {tenant_a.location.name, third.name}
    assert tenant_a.other_location.name not in manager_page.content.decode()


def test_the_list_is_searched_by_booking_code_and_recipient(tenant_a, outboxes, client_for):
    mine = outboxes[0]
    client = client_for(tenant_a.owner)
    by_code = changelist(client, q=mine.far_booking.code).context["cl"].result_list
    assert list(by_code) == [mine.far_email]
    by_recipient = changelist(client, q=tenant_a.customer.email).context["cl"].result_list
    assert set(by_recipient) == {mine.own_email, mine.bay_email, mine.far_email}
    # B's customer's address finds nothing for A's owner.
    assert not changelist(client, q=outboxes[1].tenant.customer.email).context["cl"].result_list


def test_the_email_page_shows_what_was_sent_and_why_it_failed(tenant_a, outboxes, client_for):
    email = reloaded(outboxes[0].bay_email)
    response = client_for(tenant_a.owner).get(
        reverse("admin:bookings_outboxemail_change", args=[email.pk])
    )
    html = response.content.decode()

    assert response.status_code == 200
    assert email.subject in html
    assert f"Confirmation code: {email.booking.code}" in html  # the text body
    assert "the relay hung up" in html  # last_error
    assert "BEGIN:VCALENDAR" in html and "METHOD:REQUEST" in html  # the .ics
    assert "Failed (gave up retrying)" in html
    # The customer's manage link is not shown: with it, staff could act as the customer.
    token = manage_token(email.booking)
    with scopes_disabled():
        notifications.email_render(email)  # never sent: rendered for the page only, as here
    assert "/manage/" in email.body_text and token[:20] in email.body_text
    assert token[:20] not in html
    assert "/manage/[link hidden]/" in html
    # Read only: no form field to edit, no save button.
    assert 'name="subject"' not in html
    assert 'name="_save"' not in html


def test_an_email_cannot_be_edited(tenant_a, outboxes, client_for):
    email = outboxes[0].bay_email
    response = client_for(tenant_a.owner).post(
        reverse("admin:bookings_outboxemail_change", args=[email.pk]),
        {"subject": "Changed", "status": EmailStatus.SENT, "to": "someone@else.example"},
    )
    assert response.status_code == 403
    after = reloaded(email)
    assert (after.subject, after.status, after.to) == (
        email.subject,
        EmailStatus.FAILED,
        email.to,
    )


def test_send_again_requeues_a_failed_email_and_it_is_sent(
    tenant_a, outboxes, client_for, django_capture_on_commit_callbacks
):
    email = outboxes[0].bay_email
    with django_capture_on_commit_callbacks(execute=True):
        response = send_again(client_for(tenant_a.manager), email)

    assert "1 email(s) queued" in messages_of(response)
    after = reloaded(email)
    assert after.status == EmailStatus.SENT
    assert after.sent_at is not None
    assert after.attempts == 1  # this one (the failure was recorded by hand, without one)
    assert after.last_error == ""
    (message,) = mail.outbox
    assert message.to == [tenant_a.customer.email]
    assert message.subject == email.subject


def test_send_again_queues_a_stuck_pending_email_but_never_a_sent_one(
    tenant_a, outboxes, client_for, django_capture_on_commit_callbacks
):
    mine = outboxes[0]
    with scope(organization=tenant_a.organization):
        assert notifications.email_deliver(mine.own_email.pk) is True
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = send_again(client_for(tenant_a.owner), mine.own_email, mine.far_email)

    assert "1 email(s) queued" in messages_of(response)
    assert f"{mine.own_email}: already sent" in messages_of(response)
    assert [m.subject for m in mail.outbox] == [mine.far_email.subject]
    assert reloaded(mine.own_email).attempts == 1


def test_staff_cannot_send_again(
    tenant_a, outboxes, client_for, django_capture_on_commit_callbacks
):
    email = outboxes[0].own_email
    with scope(organization=tenant_a.organization):
        notifications.email_record_failure(email.pk, ConnectionError("x"), retry_at=None)
    client = client_for(tenant_a.staff)
    assert "email_send_again" in changelist(client_for(tenant_a.owner)).content.decode()
    assert "email_send_again" not in changelist(client).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        send_again(client, email)

    assert reloaded(email).status == EmailStatus.FAILED
    assert mail.outbox == []


def test_send_again_checks_each_row(
    tenant_a, tenant_b, outboxes, client_for, django_capture_on_commit_callbacks
):
    # given A's manager, who also works a chair at B as a staff member: they see the emails of
    # their own B bookings, but may not send them again
    manager = tenant_a.manager
    membership = MembershipFactory(
        organization=tenant_b.organization, user=manager, role=Role.STAFF
    )
    chair = ResourceFactory(
        location=tenant_b.location, kind=ResourceKind.STAFF, membership=membership, name="Chair"
    )
    theirs = outboxes[1]
    with scopes_disabled():
        theirs.service.resources.add(chair)
    with scope(organization=tenant_b.organization):
        b_booking = theirs.book(chair, tenant_b.location)
        b_email = b_booking.emails.get()
        notifications.email_record_failure(b_email.pk, ConnectionError("x"), retry_at=None)
    client = client_for(manager)
    assert b_email in changelist(client).context["cl"].result_list

    with django_capture_on_commit_callbacks(execute=True):
        response = send_again(client, outboxes[0].bay_email, b_email)

    assert "not yours to send" in messages_of(response)
    assert reloaded(outboxes[0].bay_email).status == EmailStatus.SENT
    assert reloaded(b_email).status == EmailStatus.FAILED
    assert [m.to for m in mail.outbox] == [[tenant_a.customer.email]]


def test_another_organizations_email_cannot_be_sent_again(
    tenant_a, outboxes, client_for, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        send_again(client_for(tenant_a.owner), outboxes[1].bay_email)
    assert reloaded(outboxes[1].bay_email).status == EmailStatus.FAILED
    assert mail.outbox == []


@pytest.mark.parametrize(("role", "booking"), [("owner", "bay_booking"), ("staff", "own_booking")])
def test_the_booking_page_lists_its_emails(role, booking, tenant_a, outboxes, client_for):
    booking = getattr(outboxes[0], booking)
    with scopes_disabled():
        email = booking.emails.get()
    response = client_for(tenant_a.user(role)).get(
        reverse("admin:bookings_booking_change", args=[booking.pk])
    )
    html = response.content.decode()

    assert response.status_code == 200
    assert "Booking confirmation" in html
    assert email.get_status_display() in html
    assert reverse("admin:bookings_outboxemail_change", args=[email.pk]) in html
    # read only: no inline form fields for the emails
    assert 'name="emails-0-status"' not in html
    assert "emails-0-DELETE" not in html


@pytest.mark.parametrize("prefix_length", range(0, 80, 7))
def test_a_manage_link_is_hidden_wherever_the_ics_folds_it(prefix_length):
    token = "eyJib29raW5nIjoxLCJvcmdhbml6YXRpb24iOjF9:1vPq2X:" + "S" * 43
    event = icalendar.Event()
    event.add("description", f"{'x' * prefix_length} https://a.example/shop/manage/{token}/")
    folded = event.to_ical().decode()
    assert "\r\n " in folded  # the line was folded somewhere
    shown = _hide_links(folded)
    assert token[:10] not in shown and "/manage/[link hidden]/" in shown

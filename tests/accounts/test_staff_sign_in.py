"""The admin's sign-in: lockout per account and per address (django-axes), what platform admins
see of it, idle staff sessions, and the password reset by email."""

import re
from datetime import timedelta

import pytest
import time_machine
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core import mail
from django.test import Client
from django.utils import timezone
from knox.models import AuthToken

from accounts.models import AccountEmail, AccountEmailKind

LOGIN = "/admin/login/"
LIMIT = settings.AXES_FAILURE_LIMIT


def sign_in(email: str, password: str = "password", *, address: str = "10.0.0.1") -> Client:
    client = Client(REMOTE_ADDR=address)
    form = {"username": email, "password": password, "next": "/admin/"}
    client.response = client.post(LOGIN, form)
    return client


def fail(times: int, *, emails: list[str], addresses: list[str]):
    """Wrong passwords; the form answers each with its error, until the limit locks."""
    for attempt in range(times):
        response = sign_in(
            emails[attempt % len(emails)], "wrong", address=addresses[attempt % len(addresses)]
        ).response
        assert response.status_code == (429 if attempt + 1 >= LIMIT else 200)
    return response


@pytest.fixture(autouse=True)
def _fresh_throttles(empty_cache):
    """The reset form's throttles count in the cache."""


def test_an_account_is_locked_after_repeated_failures_from_any_address(tenant_a):
    email = tenant_a.staff.email
    # given failures spread over many addresses, with the email's case varied
    fail(LIMIT, emails=[email, email.upper()], addresses=[f"10.0.1.{n}" for n in range(LIMIT)])

    # then the right password is refused too, from yet another address, on the lockout page
    locked = sign_in(email, address="10.0.2.1").response
    assert locked.status_code == 429
    assert "Signing in is locked" in locked.content.decode()
    assert "Try again in 15 minutes" in locked.content.decode()
    assert locked["Retry-After"] == str(15 * 60)
    # another account is not affected
    assert sign_in(tenant_a.owner.email, address="10.0.2.1").response.status_code == 302


def test_an_address_is_locked_after_failures_across_accounts(tenant_a):
    fail(LIMIT, emails=[f"guess{n}@example.com" for n in range(LIMIT)], addresses=["10.0.3.1"])

    assert sign_in(tenant_a.staff.email, address="10.0.3.1").response.status_code == 429
    # the account itself is not locked: from elsewhere it signs in
    assert sign_in(tenant_a.staff.email, address="10.0.3.2").response.status_code == 302


def test_fewer_failures_than_the_limit_still_sign_in(tenant_a):
    fail(LIMIT - 1, emails=[tenant_a.staff.email], addresses=["10.0.4.1"])

    signed_in = sign_in(tenant_a.staff.email, address="10.0.4.1")
    assert signed_in.response.status_code == 302
    assert signed_in.get("/admin/").status_code == 200


def test_the_lockout_ends_after_the_cool_off(tenant_a):
    fail(LIMIT, emails=[tenant_a.staff.email], addresses=["10.0.5.1"])
    assert sign_in(tenant_a.staff.email, address="10.0.5.1").response.status_code == 429

    with time_machine.travel(timedelta(minutes=16)):
        assert sign_in(tenant_a.staff.email, address="10.0.5.1").response.status_code == 302


def test_failed_api_sign_ins_do_not_lock_the_admin(tenant_a):
    api = Client(REMOTE_ADDR="10.0.6.1")
    for _ in range(LIMIT + 1):
        response = api.post(
            "/api/v1/auth/token/",
            {"email": tenant_a.staff.email, "password": "wrong"},
            content_type="application/json",
        )
        assert response.status_code == 400  # the API's own answer and throttle, as before
    assert not AccessAttempt.objects.exists()
    assert sign_in(tenant_a.staff.email, address="10.0.6.1").response.status_code == 302


def test_a_platform_admin_sees_the_lockout_and_lifts_it(tenant_a, platform_admin, client_for):
    email = tenant_a.staff.email
    fail(LIMIT, emails=[email], addresses=["10.0.7.1"])
    admin = client_for(platform_admin)

    listed = admin.get("/admin/axes/accessattempt/?locked_out=yes")
    assert listed.status_code == 200
    assert email in listed.content.decode()

    attempt = AccessAttempt.objects.get(username=email)
    lifted = admin.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    assert lifted.status_code == 302
    assert sign_in(email, address="10.0.7.1").response.status_code == 302


@pytest.mark.parametrize("role", ["owner", "manager", "staff"])
def test_organization_staff_do_not_see_the_lockouts(tenant_a, client_for, role):
    fail(LIMIT, emails=[tenant_a.customer_user.email], addresses=["10.0.8.1"])
    member = client_for(tenant_a.user(role))

    assert member.get("/admin/axes/accessattempt/").status_code == 403
    assert member.get("/admin/axes/accessattempt/1/delete/").status_code == 403
    assert "/admin/axes/" not in member.get("/admin/").content.decode()


def session_expiry(client: Client):
    return Session.objects.get(session_key=client.session.session_key).expire_date


def test_an_idle_staff_session_expires_and_an_active_one_is_renewed(tenant_a, client_for):
    idle = timedelta(minutes=settings.STAFF_SESSION_IDLE_MINUTES)
    with time_machine.travel("2026-03-02 09:00Z", tick=False) as clock:
        staff = client_for(tenant_a.staff)
        assert staff.get("/admin/").status_code == 200
        started = session_expiry(staff)
        assert started.isoformat() == "2026-03-02T10:00:00+00:00"

        # active: a request 50 minutes later pushes the end an hour from then
        clock.shift(timedelta(minutes=50))
        assert staff.get("/admin/").status_code == 200
        assert session_expiry(staff) == started + timedelta(minutes=50)

        # idle: an hour and a second without a request, and the session is gone
        clock.shift(idle + timedelta(seconds=1))
        gone = staff.get("/admin/")
        assert gone.status_code == 302
        assert gone["Location"].startswith(LOGIN)


def test_requests_within_a_minute_do_not_rewrite_the_session(tenant_a, client_for):
    with time_machine.travel("2026-03-02 09:00Z", tick=False) as clock:
        staff = client_for(tenant_a.staff)
        staff.get("/admin/")
        first = session_expiry(staff)
        clock.shift(timedelta(seconds=30))
        staff.get("/admin/")
        assert session_expiry(staff) == first


def test_staff_calling_the_api_by_token_are_given_no_session(tenant_a):
    _, key = AuthToken.objects.create(user=tenant_a.owner)
    app = Client(headers={"authorization": f"Bearer {key}"})

    assert app.get("/api/v1/me/").status_code == 200
    assert app.get("/api/v1/me/").status_code == 200

    assert not Session.objects.exists()
    assert "sessionid" not in app.cookies


def test_a_customers_session_keeps_djangos_lifetime(tenant_a, client_for):
    with time_machine.travel("2026-03-02 09:00Z", tick=False):
        customer = client_for(tenant_a.customer_user)
        assert customer.get(f"/{tenant_a.organization.slug}/").status_code == 200

        assert "_session_expiry" not in customer.session
        lifetime = timedelta(seconds=settings.SESSION_COOKIE_AGE)
        assert session_expiry(customer).isoformat() == ((timezone.now() + lifetime).isoformat())


def test_the_login_page_offers_a_password_reset():
    page = Client().get(LOGIN).content.decode()

    assert 'href="/admin/password_reset/"' in page


def test_a_staff_password_reset_goes_through_the_outbox_and_sets_a_new_password(
    tenant_a, django_capture_on_commit_callbacks
):
    staff = tenant_a.staff
    device = AuthToken.objects.create(user=staff)[0]
    with django_capture_on_commit_callbacks(execute=True):
        asked = Client().post("/admin/password_reset/", {"email": staff.email.upper()})

    assert asked.status_code == 302
    assert asked["Location"] == "/admin/password_reset/done/"
    (row,) = AccountEmail.objects.all()
    assert (row.kind, row.to, row.status) == (AccountEmailKind.PASSWORD_RESET, staff.email, "sent")
    (message,) = mail.outbox
    link = re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", message.body).group(1)

    browser = Client()
    form = browser.get(link, follow=True)
    assert form.status_code == 200
    set_password = form.redirect_chain[-1][0]
    done = browser.post(
        set_password, {"new_password1": "a-new-l0ng-secret", "new_password2": "a-new-l0ng-secret"}
    )
    assert done.status_code == 302
    assert done["Location"] == "/accounts/reset/done/"
    staff.refresh_from_db()
    assert staff.email_verified_at is not None  # the API's service set it: reading mail proves it
    assert not AuthToken.objects.filter(pk=device.pk).exists()  # every device signs in again
    assert "invalid" in browser.get(link, follow=True).content.decode()  # it worked once
    assert sign_in(staff.email, "a-new-l0ng-secret").response.status_code == 302
    assert sign_in(staff.email, "password", address="10.0.9.9").response.status_code == 200


def test_an_unknown_address_gets_the_same_answer_and_no_email(
    db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        asked = Client().post("/admin/password_reset/", {"email": "nobody@example.com"})

    assert asked.status_code == 302
    assert asked["Location"] == "/admin/password_reset/done/"
    assert not AccountEmail.objects.exists()
    assert "If an account has this address" in Client().get(asked["Location"]).content.decode()


def test_password_resets_are_throttled_per_email_address(tenant_a, rates):
    rates(account_email="2/hour")
    for address in ("10.0.10.1", "10.0.10.2"):
        asked = Client(REMOTE_ADDR=address).post(
            "/admin/password_reset/", {"email": tenant_a.staff.email}
        )
        assert asked.status_code == 302

    refused = Client(REMOTE_ADDR="10.0.10.3").post(
        "/admin/password_reset/", {"email": tenant_a.staff.email}
    )
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "Too many password resets" in refused.content.decode()
    assert AccountEmail.objects.count() == 2


def test_password_resets_are_throttled_per_client_address(tenant_a, rates):
    rates(page_password_reset="2/hour")
    client = Client(REMOTE_ADDR="10.0.11.1")
    for n in range(2):
        asked = client.post("/admin/password_reset/", {"email": f"x{n}@example.com"})
        assert asked.status_code == 302

    assert client.post("/admin/password_reset/", {"email": "x9@example.com"}).status_code == 429


def test_a_malformed_reset_request_is_answered_400(db):
    refused = Client().post("/admin/password_reset/", {"email": "not an email"})

    assert refused.status_code == 400
    assert "Enter a valid email address" in refused.content.decode()


def test_a_user_without_admin_access_is_not_let_in_after_the_password(tenant_a):
    # a customer's right password is no key to the admin, and counts as no lockout either
    refused = sign_in(tenant_a.customer_user.email).response
    assert refused.status_code == 200
    assert "Please enter the correct" in refused.content.decode()

"""The signed-in person's account: profile, password change and reset, email verification (and
the guest bookings it links), deletion, and where a member works (GET /me/).

Account emails go through accounts' outbox: written in the request's transaction, sent after
the commit. The test's transaction never commits, so `django_capture_on_commit_callbacks`
stands in for the commit wherever the email must go out.
"""

import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled
from knox.models import AuthToken
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import AccountEmail, AccountEmailKind, Customer, Membership, Role, User
from accounts.notifications import password_reset_uid
from accounts.roles import grants_of
from bookings.models import Booking
from tests.api.test_auth import sign_in, with_token
from tests.factories import (
    BookingFactory,
    CustomerFactory,
    LocationFactory,
    MembershipFactory,
    ResourceFactory,
    UserFactory,
)
from tests.scenarios import NOW

ME = "/api/v1/me/"
PASSWORD = "/api/v1/me/password/"
RESET = "/api/v1/auth/password-reset/"
RESET_CONFIRM = "/api/v1/auth/password-reset/confirm/"
VERIFY = "/api/v1/auth/verify-email/"
NEW_PASSWORD = "a long passphrase 42"


@pytest.fixture
def rates(monkeypatch):
    def set_rates(**scopes: str) -> None:
        monkeypatch.setattr(
            SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, **scopes}
        )

    return set_rates


@pytest.fixture
def ann(db):
    return UserFactory(email="ann@example.com", full_name="Ann Example")


def error_of(response) -> tuple[str, dict]:
    error = response.json()["error"]
    return error["code"], error["details"]


def link_in(message) -> str:
    return re.search(r"https?://\S+", message.body).group(0)


# --- Profile -------------------------------------------------------------------------------------


def test_the_profile_changes_name_and_phone(ann, api):
    client = api(ann)

    response = client.patch(ME, {"full_name": "Ann Other", "phone": "040 123 4567"})

    assert response.status_code == 200
    assert response.json()["full_name"] == "Ann Other"
    assert response.json()["phone"] == "+358401234567"  # a local number of the default region
    ann.refresh_from_db()
    assert (ann.full_name, str(ann.phone)) == ("Ann Other", "+358401234567")

    assert client.patch(ME, {"phone": ""}).json()["phone"] == ""
    assert client.get(ME).json()["full_name"] == "Ann Other"  # what is not sent stays


@pytest.mark.parametrize("body", [{"phone": "not a number"}, {"phone": "+35812"}])
def test_the_profile_refuses_a_phone_that_is_no_number(ann, api, body):
    response = api(ann).patch(ME, body)

    assert response.status_code == 400
    assert error_of(response)[1].keys() == {"phone"}
    ann.refresh_from_db()
    assert ann.phone == ""


def test_the_profile_needs_a_token(db, api):
    assert api().patch(ME, {"full_name": "X"}).status_code == 401


# --- Password change -----------------------------------------------------------------------------


def test_a_password_change_keeps_this_device_and_signs_out_the_others(ann, api):
    here = sign_in(api(), ann.email).json()
    elsewhere = sign_in(api(), ann.email).json()
    client = with_token(api, here["token"])

    response = client.post(PASSWORD, {"current_password": "password", "new_password": NEW_PASSWORD})

    assert response.status_code == 204
    assert client.get(ME).status_code == 200
    assert with_token(api, elsewhere["token"]).get(ME).status_code == 401
    assert sign_in(api(), ann.email).status_code == 400
    assert sign_in(api(), ann.email, NEW_PASSWORD).status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"current_password": "wrong", "new_password": NEW_PASSWORD}, "current_password"),
        ({"current_password": "password", "new_password": "123"}, "new_password"),
        ({"current_password": "password", "new_password": "ann@example.com"}, "new_password"),
    ],
)
def test_a_password_change_refuses_a_wrong_current_or_weak_new_password(ann, api, body, field):
    other = AuthToken.objects.create(user=ann)[0]

    response = api(ann).post(PASSWORD, body)

    assert response.status_code == 400
    assert error_of(response)[1].keys() == {field}
    ann.refresh_from_db()
    assert ann.check_password("password")
    assert AuthToken.objects.filter(pk=other.pk).exists()


def test_wrong_current_passwords_are_throttled(ann, api, rates):
    rates(failed_login="2/hour")
    client = api(ann)
    wrong = {"current_password": "wrong", "new_password": NEW_PASSWORD}
    assert [client.post(PASSWORD, wrong).status_code for _ in range(2)] == [400, 400]

    right = client.post(PASSWORD, {"current_password": "password", "new_password": NEW_PASSWORD})

    assert right.status_code == 429


# --- Password reset ------------------------------------------------------------------------------


def test_a_password_reset_is_emailed_after_the_commit_and_sets_a_new_password(
    ann, api, django_capture_on_commit_callbacks
):
    device = AuthToken.objects.create(user=ann)[0]

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api().post(RESET, {"email": "ANN@example.com"})
    # the email is written in the request's transaction, and sent only once it commits
    assert response.status_code == 202
    (row,) = AccountEmail.objects.all()
    assert (row.kind, row.to, row.status) == (AccountEmailKind.PASSWORD_RESET, ann.email, "pending")
    assert mail.outbox == []
    for callback in callbacks:
        callback()
    (message,) = mail.outbox
    assert message.to == [ann.email]
    uid, token = re.search(r"/accounts/reset/([^/]+)/([^/]+)/", link_in(message)).groups()
    row.refresh_from_db()
    assert row.status == "sent"
    assert token not in str(AccountEmail.objects.values().get())  # no key to the account stored

    link = {"uid": uid, "token": token}
    confirmed = api().post(RESET_CONFIRM, {**link, "new_password": NEW_PASSWORD})

    assert confirmed.status_code == 204
    assert not AuthToken.objects.filter(pk=device.pk).exists()  # every device signs in again
    assert sign_in(api(), ann.email, NEW_PASSWORD).status_code == 201
    ann.refresh_from_db()
    assert ann.email_verified_at == NOW  # reading the mail proved the address
    # the link works once
    again = api().post(RESET_CONFIRM, {**link, "new_password": "another 1 pass"})
    assert error_of(again)[0] == "invalid_link"


@pytest.mark.parametrize("email", ["nobody@example.com", "deleted@example.com"])
def test_a_reset_for_an_unknown_or_inactive_address_answers_the_same_and_sends_nothing(
    ann, api, django_capture_on_commit_callbacks, email
):
    UserFactory(email="deleted@example.com", is_active=False)

    with django_capture_on_commit_callbacks(execute=True):
        response = api().post(RESET, {"email": email})

    assert response.status_code == 202
    assert response.content == b""
    assert not AccountEmail.objects.exists()
    assert mail.outbox == []


def test_reset_emails_are_limited_per_address_known_or_not(ann, api, rates):
    rates(account_email="2/hour")
    for email in (ann.email, "nobody@example.com"):
        statuses = [api().post(RESET, {"email": email}).status_code for _ in range(3)]
        assert statuses == [202, 202, 429]
    assert AccountEmail.objects.count() == 2


def _reset_link(user) -> dict:
    return {"uid": password_reset_uid(user), "token": default_token_generator.make_token(user)}


@pytest.mark.parametrize(
    "spoil",
    [
        lambda link: {**link, "token": link["token"][:-1] + "x"},  # forged
        lambda link: {**link, "uid": "MTIzNDU2Nzg"},  # another (unknown) user
        lambda link: {**link, "uid": "%%%"},  # not even base64
        lambda link: {**link, "uid": "OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk"},  # beyond any id
    ],
)
def test_a_forged_reset_link_changes_nothing(ann, api, spoil):
    body = {**spoil(_reset_link(ann)), "new_password": NEW_PASSWORD}

    response = api().post(RESET_CONFIRM, body)

    assert response.status_code == 400
    assert error_of(response)[0] == "invalid_link"
    ann.refresh_from_db()
    assert ann.check_password("password")


def test_an_expired_reset_link_changes_nothing(ann, api, settings):
    link = _reset_link(ann)

    with time_machine.travel(NOW + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 1)):
        response = api().post(RESET_CONFIRM, {**link, "new_password": NEW_PASSWORD})

    assert error_of(response)[0] == "invalid_link"
    ann.refresh_from_db()
    assert ann.check_password("password")


def test_a_reset_refuses_a_weak_password_and_the_link_still_works(ann, api):
    link = _reset_link(ann)

    weak = api().post(RESET_CONFIRM, {**link, "new_password": "12345678"})

    assert weak.status_code == 400
    assert error_of(weak)[1].keys() == {"new_password"}
    assert api().post(RESET_CONFIRM, {**link, "new_password": NEW_PASSWORD}).status_code == 204


# --- Email verification and guest bookings -------------------------------------------------------


def _sign_up(api, django_capture_on_commit_callbacks, email="guest@example.com") -> dict:
    with django_capture_on_commit_callbacks(execute=True):
        response = api().post(
            "/api/v1/auth/signup/",
            {"email": email, "password": NEW_PASSWORD, "full_name": "Gus Guest"},
        )
    assert response.status_code == 201
    return response.json()


def _verification_token(message) -> str:
    return re.search(r"/accounts/verify-email/([^/]+)/", link_in(message)).group(1)


def test_sign_up_emails_a_verification_link_after_the_commit(
    db, api, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        api().post(
            "/api/v1/auth/signup/",
            {"email": "new@example.com", "password": NEW_PASSWORD, "full_name": "New"},
        )
    assert AccountEmail.objects.get().kind == AccountEmailKind.EMAIL_VERIFICATION
    assert mail.outbox == []
    for callback in callbacks:
        callback()

    (message,) = mail.outbox
    response = api().post(VERIFY, {"token": _verification_token(message)})

    assert response.status_code == 200
    verified = {"email": "new@example.com", "email_verified_at": "2029-12-07T12:00:00Z"}
    assert response.json() == verified
    assert User.objects.get(email="new@example.com").email_verified_at == NOW


def test_a_refused_sign_up_emails_nothing(ann, api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        api().post(
            "/api/v1/auth/signup/",
            {"email": ann.email, "password": NEW_PASSWORD, "full_name": "Ann again"},
        )
    assert not AccountEmail.objects.exists()
    assert mail.outbox == []


def test_verification_links_guest_profiles_of_that_address_only_then_and_only_where_they_are(
    alpha, bravo, api, django_capture_on_commit_callbacks
):
    # given a guest who booked at alpha without an account, and someone else at bravo
    with scopes_disabled():
        guest = CustomerFactory(organization=alpha.organization, email="guest@example.com")
        booking = BookingFactory(resource=alpha.staff_time, customer=guest)
        bravo_customers = Customer.objects.filter(organization=bravo.organization).count()
    # when they sign up with that address: nothing is linked, sign-up proves nothing
    signed_up = _sign_up(api, django_capture_on_commit_callbacks)
    client = with_token(api, signed_up["token"])
    assert client.get("/api/v1/me/bookings/").json()["results"] == []
    with scopes_disabled():
        guest.refresh_from_db()
    assert guest.user is None

    # when they open the link
    token = _verification_token(mail.outbox[0])
    assert api().post(VERIFY, {"token": token}).status_code == 200

    # then alpha's guest profile is theirs, with its booking; bravo got no profile
    user = User.objects.get(email="guest@example.com")
    with scopes_disabled():
        guest.refresh_from_db()
    assert guest.user == user
    codes = [b["code"] for b in client.get("/api/v1/me/bookings/").json()["results"]]
    assert codes == [booking.code]
    with scopes_disabled():
        assert Customer.objects.filter(organization=bravo.organization).count() == bravo_customers
        assert not Customer.objects.filter(organization=bravo.organization, user=user).exists()


def test_verification_leaves_profiles_of_other_accounts_alone(
    alpha, api, django_capture_on_commit_callbacks
):
    with scopes_disabled():
        taken = CustomerFactory(
            organization=alpha.organization, email="guest@example.com", user=alpha.customer_user
        )
    _sign_up(api, django_capture_on_commit_callbacks)

    api().post(VERIFY, {"token": _verification_token(mail.outbox[0])})

    with scopes_disabled():
        taken.refresh_from_db()
    assert taken.user == alpha.customer_user


@pytest.mark.parametrize(
    "spoil",
    [
        lambda token: token[:-2] + ("aa" if not token.endswith("aa") else "bb"),  # signature
        lambda token: "eyJ1c2VyIjoxfQ" + token[token.index(":") :],  # another payload
        lambda token: "not a token",
    ],
)
def test_a_tampered_verification_link_verifies_nothing(
    db, api, django_capture_on_commit_callbacks, spoil
):
    _sign_up(api, django_capture_on_commit_callbacks)

    response = api().post(VERIFY, {"token": spoil(_verification_token(mail.outbox[0]))})

    assert response.status_code == 400
    assert error_of(response)[0] == "invalid_link"
    assert User.objects.get(email="guest@example.com").email_verified_at is None


def test_an_expired_verification_link_verifies_nothing(
    db, api, django_capture_on_commit_callbacks, settings
):
    _sign_up(api, django_capture_on_commit_callbacks)
    token = _verification_token(mail.outbox[0])

    later = NOW + settings.ACCOUNT_EMAIL_VERIFICATION_MAX_AGE + timedelta(seconds=1)
    with time_machine.travel(later):
        response = api().post(VERIFY, {"token": token})

    assert error_of(response)[0] == "invalid_link"


def test_the_verification_page_asks_before_it_verifies(
    db, client, api, django_capture_on_commit_callbacks
):
    _sign_up(api, django_capture_on_commit_callbacks)
    path = re.search(r"/accounts/verify-email/[^/]+/", link_in(mail.outbox[0])).group(0)

    assert client.get(path).status_code == 200  # a mail scanner's visit verifies nothing
    assert User.objects.get(email="guest@example.com").email_verified_at is None
    assert client.post(path).status_code == 200
    assert User.objects.get(email="guest@example.com").email_verified_at == NOW
    assert client.post("/accounts/verify-email/forged/").status_code == 400


def test_the_link_can_be_sent_again_until_the_email_is_verified(
    ann, api, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert api(ann).post("/api/v1/me/verify-email/").status_code == 202
    token = _verification_token(mail.outbox[0])
    api().post(VERIFY, {"token": token})

    with django_capture_on_commit_callbacks(execute=True):
        assert api(ann).post("/api/v1/me/verify-email/").status_code == 202
    assert len(mail.outbox) == 1


# --- Deletion ------------------------------------------------------------------------------------


def test_deleting_an_account_anonymises_its_customers_and_keeps_their_bookings(alpha, bravo, api):
    user = alpha.customer_user
    with scopes_disabled():
        at_bravo = CustomerFactory(
            organization=bravo.organization, user=user, phone="+358401234567"
        )
        bravo_booking = BookingFactory(resource=bravo.staff_time, customer=at_bravo)
        bookings = list(Booking.objects.filter(customer__user=user).values_list("pk", flat=True))
    email = user.email
    client = api(user)
    other_device = AuthToken.objects.create(user=user)[0]

    response = client.delete(ME, {"password": "password"})

    assert response.status_code == 204
    with scopes_disabled():
        profiles = Customer.objects.filter(pk__in=[alpha.customer.pk, at_bravo.pk])
        assert [(c.full_name, c.email, str(c.phone), c.user_id) for c in profiles] == 2 * [
            ("Deleted customer", "", "", None)
        ]
        kept = Booking.objects.filter(pk__in=bookings)
        assert kept.count() == len(bookings) == 3  # alpha's two and bravo's
        assert set(kept.values_list("customer_id", flat=True)) == {alpha.customer.pk, at_bravo.pk}
        assert Booking.objects.filter(pk=bravo_booking.pk).exists()
    user.refresh_from_db()
    assert not user.is_active
    assert not user.has_usable_password()
    assert user.full_name == "" and user.email.endswith("@deleted.invalid")
    assert not AuthToken.objects.filter(user=user).exists()
    assert client.get(ME).status_code == 401
    assert not AuthToken.objects.filter(pk=other_device.pk).exists()
    # the address is free again
    signup = api().post(
        "/api/v1/auth/signup/",
        {"email": email, "password": NEW_PASSWORD, "full_name": "Back again"},
    )
    assert signup.status_code == 201


def test_a_deletion_with_a_wrong_password_deletes_nothing(alpha, api, rates):
    rates(failed_login="1/hour")
    client = api(alpha.customer_user)

    response = client.delete(ME, {"password": "wrong"})

    assert response.status_code == 400
    assert error_of(response)[1].keys() == {"password"}
    assert client.get(ME).status_code == 200
    with scopes_disabled():
        alpha.customer.refresh_from_db()
    assert alpha.customer.user == alpha.customer_user
    assert client.delete(ME, {"password": "password"}).status_code == 429  # guessing is limited
    assert client.delete(ME, {}).status_code in (400, 429)


def test_the_only_owner_cannot_delete_their_account(alpha, api):
    response = api(alpha.owner).delete(ME, {"password": "password"})

    assert response.status_code == 409
    assert error_of(response) == ("last_owner", {"organizations": ["alpha"]})
    alpha.owner.refresh_from_db()
    assert alpha.owner.is_active


def test_an_owner_with_a_co_owner_can_leave(alpha, api):
    MembershipFactory(organization=alpha.organization, role=Role.OWNER)

    assert api(alpha.owner).delete(ME, {"password": "password"}).status_code == 204

    with scopes_disabled():
        assert not Membership.objects.filter(user=alpha.owner).exists()


def test_a_staff_member_whose_time_is_booked_keeps_a_powerless_membership(alpha, api):
    assert api(alpha.staff).delete(ME, {"password": "password"}).status_code == 204

    alpha.staff.refresh_from_db()
    with scopes_disabled():
        assert Membership.objects.filter(pk=alpha.staff_membership.pk).exists()  # the schedule's
        assert Booking.objects.filter(pk=alpha.booking.pk, resource=alpha.staff_time).exists()
    assert grants_of(alpha.staff) == {}


def test_a_deleted_owner_is_no_owner_the_organization_can_count_on(alpha, api):
    # an owner whose own time is a resource keeps the membership once deleted
    co_owner = MembershipFactory(organization=alpha.organization, role=Role.OWNER)
    ResourceFactory(location=alpha.location, kind="staff", membership=co_owner, name="Co time")
    assert api(co_owner.user).delete(ME, {"password": "password"}).status_code == 204

    response = api(alpha.owner).delete(ME, {"password": "password"})

    assert error_of(response)[0] == "last_owner"


# --- Where a member works ------------------------------------------------------------------------


def test_me_lists_each_membership_with_its_locations_and_own_resources(alpha, bravo, api):
    assert api(alpha.staff).get(ME).json()["memberships"] == [
        {
            "organization": "alpha",
            "organization_name": "Alpha",
            "role": "staff",
            "locations": [{"id": alpha.location.pk, "name": "Alpha Main"}],
            "resource_ids": [alpha.staff_time.pk],
        }
    ]
    # an owner works at every location, and has no bookable time of their own
    assert api(alpha.owner).get(ME).json()["memberships"] == [
        {
            "organization": "alpha",
            "organization_name": "Alpha",
            "role": "owner",
            "locations": [
                {"id": alpha.other_location.pk, "name": "Alpha Annex"},
                {"id": alpha.location.pk, "name": "Alpha Main"},
            ],
            "resource_ids": [],
        }
    ]
    assert api(alpha.customer_user).get(ME).json()["memberships"] == []


def test_me_shows_nothing_of_an_organization_one_does_not_work_for(alpha, bravo, api):
    body = api(alpha.staff).get(ME).content.decode()

    for marker in ("bravo", "Bravo", str(bravo.staff_time.pk) + "]"):
        assert marker not in body


def _me_queries(api, user) -> int:
    client = api(user)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(ME).status_code == 200
    return len(queries)


def test_me_reads_memberships_in_a_fixed_number_of_queries(alpha, bravo, api):
    # given one person who works for one organization, then for three, with more of everything:
    # limited to some locations and not, with their own resources and without
    person = alpha.owner
    one = _me_queries(api, person)
    bravo_membership = MembershipFactory(
        organization=bravo.organization, user=person, role=Role.MANAGER, locations=[bravo.location]
    )
    ResourceFactory(location=bravo.location, kind="staff", membership=bravo_membership, name="B")
    ResourceFactory(location=bravo.other_location, kind="staff", membership=bravo_membership)
    third = MembershipFactory(user=person, role=Role.OWNER)
    for n in range(3):
        LocationFactory(organization=third.organization, name=f"Third {n}")

    three = _me_queries(api, person)

    assert three == one
    assert len(api(person).get(ME).json()["memberships"]) == 3

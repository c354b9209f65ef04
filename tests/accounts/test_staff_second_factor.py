"""The optional second factor (TOTP): required by an organization for its staff (or by the
platform for its admins), set up after the password, then asked at each sign-in."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_scopes import scopes_disabled

from accounts.models import AuditAction, AuditEntry
from tests.factories import MembershipFactory

SECOND_FACTOR = "/admin/second-factor/"
START = "2026-03-02 09:00Z"


def code_of(device: TOTPDevice, *, later: int = 0) -> str:
    """The code the person's app shows now (or `later` 30-second steps from now)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time += later * device.step
    return f"{totp.token():06d}"


def signed_in_with_password(user) -> Client:
    client = Client()
    response = client.post(
        "/admin/login/", {"username": user.email, "password": "password", "next": "/admin/"}
    )
    assert response.status_code == 302
    return client


@pytest.fixture
def requiring(tenant_a):
    tenant_a.organization.staff_second_factor_required = True
    tenant_a.organization.save(update_fields=["staff_second_factor_required"])
    return tenant_a


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def test_without_a_requirement_staff_go_straight_to_the_admin(tenant_a):
    staff = signed_in_with_password(tenant_a.staff)

    assert staff.get("/admin/").status_code == 200
    assert staff.get(SECOND_FACTOR).status_code == 302  # nothing owed: on to the admin


def test_a_required_second_factor_is_set_up_after_the_password(requiring, clock):
    staff = signed_in_with_password(requiring.staff)

    # the admin waits for the second factor, on every page
    for page in ("/admin/", "/admin/accounts/customer/"):
        held = staff.get(page)
        assert held.status_code == 302
        assert held["Location"].startswith(f"{SECOND_FACTOR}?next=")
    enrol = staff.get(f"{SECOND_FACTOR}?next=/admin/accounts/customer/")
    assert enrol.status_code == 200
    body = enrol.content.decode()
    assert re.search(r'class="second-factor-qr"[^>]*><svg[^>]*>.*<path', body, re.S)
    assert "Set up your second factor" in body
    (device,) = TOTPDevice.objects.filter(user=requiring.staff)
    assert not device.confirmed
    assert staff.get(SECOND_FACTOR).status_code == 200
    assert TOTPDevice.objects.filter(user=requiring.staff).count() == 1  # the same key again

    wrong = staff.post(SECOND_FACTOR, {"code": code_of(device, later=5), "next": "/admin/"})
    assert wrong.status_code == 400
    assert "not the code your app shows" in wrong.content.decode()
    device.refresh_from_db()
    assert not device.confirmed

    clock.shift(timedelta(seconds=2))  # django-otp makes the next try after a wrong one wait
    confirmed = staff.post(
        SECOND_FACTOR, {"code": code_of(device), "next": "/admin/accounts/customer/"}
    )
    assert confirmed.status_code == 302
    assert confirmed["Location"] == "/admin/accounts/customer/"
    device.refresh_from_db()
    assert device.confirmed
    assert staff.get("/admin/").status_code == 200


def test_with_an_authenticator_the_code_is_asked_at_each_sign_in(requiring, clock):
    device = TOTPDevice.objects.create(user=requiring.staff, name="phone", confirmed=True)
    staff = signed_in_with_password(requiring.staff)

    asked = staff.get(SECOND_FACTOR)
    assert asked.status_code == 200
    # no new setup: the code of the app they have
    assert "second-factor-qr" not in asked.content.decode()

    assert staff.post(SECOND_FACTOR, {"code": "12345"}).status_code == 400  # not 6 digits
    assert staff.post(SECOND_FACTOR, {"code": code_of(device, later=-9)}).status_code == 400
    assert staff.get("/admin/").status_code == 302

    clock.shift(timedelta(seconds=2))
    assert staff.post(SECOND_FACTOR, {"code": code_of(device)}).status_code == 302
    assert staff.get("/admin/").status_code == 200

    # a code already used does not open a second session
    other = signed_in_with_password(requiring.staff)
    clock.shift(timedelta(seconds=4))
    assert other.post(SECOND_FACTOR, {"code": code_of(device)}).status_code == 400
    assert other.get("/admin/").status_code == 302


def test_repeated_wrong_codes_make_the_next_try_wait(requiring, clock):
    device = TOTPDevice.objects.create(user=requiring.staff, name="phone", confirmed=True)
    staff = signed_in_with_password(requiring.staff)
    for _ in range(3):
        staff.post(SECOND_FACTOR, {"code": code_of(device, later=-9)})

    refused = staff.post(SECOND_FACTOR, {"code": code_of(device)})  # right, but too soon
    assert refused.status_code == 400
    assert "Too many wrong codes" in refused.content.decode()


def test_a_staff_member_who_chose_an_authenticator_gives_its_code_anyway(tenant_a, clock):
    device = TOTPDevice.objects.create(user=tenant_a.staff, name="phone", confirmed=True)
    staff = signed_in_with_password(tenant_a.staff)

    assert staff.get("/admin/").status_code == 302
    assert staff.post(SECOND_FACTOR, {"code": code_of(device)}).status_code == 302
    assert staff.get("/admin/").status_code == 200


def test_one_requiring_organization_is_enough(requiring, tenant_b):
    # a member of B (which does not require it) who also works for A (which does)
    MembershipFactory(organization=requiring.organization, user=tenant_b.staff)
    staff = signed_in_with_password(tenant_b.staff)

    assert staff.get("/admin/").status_code == 302


def test_another_organizations_requirement_does_not_reach_its_neighbours(requiring, tenant_b):
    assert signed_in_with_password(tenant_b.staff).get("/admin/").status_code == 200


def test_signing_out_needs_no_second_factor(requiring):
    staff = signed_in_with_password(requiring.staff)

    assert staff.post("/admin/logout/").status_code == 200
    assert staff.get("/admin/")["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("required", [True, False])
def test_the_platform_may_require_it_of_its_admins(platform_admin, settings, required):
    settings.PLATFORM_ADMIN_SECOND_FACTOR_REQUIRED = required
    admin = signed_in_with_password(platform_admin)

    assert admin.get("/admin/").status_code == (302 if required else 200)


def test_whoever_has_no_admin_access_is_sent_to_the_login(tenant_a, client_for):
    for client in (Client(), client_for(tenant_a.customer_user)):
        answer = client.get(SECOND_FACTOR)
        assert answer.status_code == 302
        assert answer["Location"].startswith("/admin/login/")


def test_owners_choose_it_managers_only_see_it(tenant_a, client_for):
    page = f"/admin/accounts/organization/{tenant_a.organization.pk}/change/"

    owner_form = client_for(tenant_a.owner).get(page).content.decode()
    manager_view = client_for(tenant_a.manager).get(page).content.decode()

    assert 'name="staff_second_factor_required"' in owner_form
    assert "Staff need a second factor" in manager_view
    assert 'name="staff_second_factor_required"' not in manager_view


def test_staff_cannot_see_or_remove_authenticators(tenant_a, client_for, platform_admin):
    device = TOTPDevice.objects.create(user=tenant_a.staff, name="phone", confirmed=True)
    owner = client_for(tenant_a.owner)

    assert owner.get("/admin/otp_totp/totpdevice/").status_code == 403
    assert owner.get(f"/admin/otp_totp/totpdevice/{device.pk}/delete/").status_code == 403
    # a platform admin removes a lost one (docs/operations.md)
    admin = client_for(platform_admin)
    removed = admin.post(f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"})
    assert removed.status_code == 302
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()


# --- A lost phone: the owner resets the second factor -------------------------------------------

MEMBERSHIPS = "/admin/accounts/membership/"


def with_authenticator(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)


def with_second_factor_given(user) -> Client:
    """Signed in with the password and a code of the person's own authenticator."""
    device = with_authenticator(user)
    client = signed_in_with_password(user)
    assert client.post(SECOND_FACTOR, {"code": code_of(device)}).status_code == 302
    return client


def reset_by(client, membership):
    return client.post(
        MEMBERSHIPS,
        {"action": "reset_second_factor", "_selected_action": [membership.pk]},
        follow=True,
    )


def reset_entries(person) -> list[AuditEntry]:
    with scopes_disabled():
        return list(
            AuditEntry.objects.filter(action=AuditAction.SECOND_FACTOR_RESET, target_id=person.pk)
        )


def test_an_owner_resets_a_lost_authenticator_and_the_person_sets_up_a_new_one(requiring):
    with_authenticator(requiring.staff)

    answer = reset_by(with_second_factor_given(requiring.owner), requiring.staff_membership)

    assert "sets up a new authenticator at the next sign-in" in answer.content.decode()
    assert not TOTPDevice.objects.filter(user=requiring.staff).exists()
    (entry,) = reset_entries(requiring.staff)
    assert (entry.actor, entry.organization) == (requiring.owner, requiring.organization)
    # the next sign-in asks for a new authenticator, not for a code of the lost one
    staff = signed_in_with_password(requiring.staff)
    enrol = staff.get(SECOND_FACTOR)
    assert "Set up your second factor" in enrol.content.decode()


def test_a_manager_cannot_reset_anyones_second_factor(requiring):
    device = with_authenticator(requiring.staff)

    reset_by(with_second_factor_given(requiring.manager), requiring.staff_membership)

    assert TOTPDevice.objects.filter(pk=device.pk).exists()
    assert reset_entries(requiring.staff) == []


def test_a_person_working_for_another_organization_too_is_reset_by_a_platform_admin_only(
    requiring, tenant_b, client_for, platform_admin
):
    """One authenticator opens every organization's door: one owner cannot lower another's."""
    MembershipFactory(user=requiring.staff, organization=tenant_b.organization)
    device = with_authenticator(requiring.staff)

    refused = reset_by(with_second_factor_given(requiring.owner), requiring.staff_membership)

    assert "also works for an organization you do not own" in refused.content.decode()
    assert TOTPDevice.objects.filter(pk=device.pk).exists()
    assert reset_entries(requiring.staff) == []

    reset_by(client_for(platform_admin), requiring.staff_membership)

    assert not TOTPDevice.objects.filter(pk=device.pk).exists()
    organizations = {entry.organization_id for entry in reset_entries(requiring.staff)}
    assert organizations == {requiring.organization.pk, tenant_b.organization.pk}


def test_an_owner_cannot_reset_a_platform_admins_second_factor(requiring, platform_admin):
    """A platform admin's authenticator guards every tenant, not one owner's organization."""
    membership = MembershipFactory(user=platform_admin, organization=requiring.organization)
    device = with_authenticator(platform_admin)

    refused = reset_by(with_second_factor_given(requiring.owner), membership)

    assert "or is a platform admin" in refused.content.decode()
    assert TOTPDevice.objects.filter(pk=device.pk).exists()

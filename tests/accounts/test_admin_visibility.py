"""What the admin shows: lists, filters and autocomplete never reveal another tenant's rows."""

import json

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.models import (
    AccountEmail,
    AccountEmailKind,
    Customer,
    Location,
    Membership,
    Role,
    User,
)
from tests.factories import CustomerFactory, MembershipFactory, OrganizationFactory


def names_of_b(tenant_b) -> list[str]:
    return [
        tenant_b.organization.name,
        tenant_b.location.name,
        tenant_b.other_location.name,
        tenant_b.customer.full_name,
        tenant_b.customer.email,
        tenant_b.owner.email,
        tenant_b.manager.email,
    ]


@pytest.mark.parametrize("role", ["owner", "manager", "staff"])
@pytest.mark.parametrize("model", ["organization", "location", "membership", "customer"])
def test_changelists_and_their_filters_show_nothing_of_another_organization(
    model, role, tenant_a, tenant_b, client_for
):
    response = client_for(tenant_a.user(role)).get(reverse(f"admin:accounts_{model}_changelist"))
    if response.status_code == 403:
        return  # no access at all is the strictest answer (the matrix pins who gets it)
    body = response.content.decode()
    for leaked in names_of_b(tenant_b):
        assert leaked not in body


def test_a_limited_manager_sees_only_their_locations_and_their_colleagues_there(
    tenant_a, tenant_b, client_for
):
    # given a barber who works only at A's other location, and a second manager at both
    elsewhere = MembershipFactory(
        organization=tenant_a.organization, locations=[tenant_a.other_location]
    )
    both = MembershipFactory(
        organization=tenant_a.organization,
        role=Role.MANAGER,
        locations=[tenant_a.location, tenant_a.other_location],
    )
    client = client_for(tenant_a.manager)

    locations = client.get(reverse("admin:accounts_location_changelist")).content.decode()
    assert tenant_a.location.name in locations
    assert tenant_a.other_location.name not in locations

    # then the manager sees colleagues at their location and org-wide ones, not the other barber
    memberships = client.get(reverse("admin:accounts_membership_changelist"))
    listed = set(memberships.context["cl"].result_list)
    with scopes_disabled():
        owner = Membership.objects.get(user=tenant_a.owner)
    assert {owner, tenant_a.manager_membership, both} <= listed
    assert elsewhere not in listed
    change = reverse("admin:accounts_membership_change", args=[elsewhere.pk])
    assert client.get(change).status_code == 404
    # and the location filter offers exactly the locations the manager may see
    location_filter = next(
        spec for spec in memberships.context["cl"].filter_specs if spec.field_path == "locations"
    )
    assert {label for _, label in location_filter.lookup_choices} == {tenant_a.location.name}


def test_deleting_a_managers_only_location_narrows_what_they_see(tenant_a, client_for):
    # given the manager's only location is deleted
    with scopes_disabled():
        tenant_a.location.delete()
    client = client_for(tenant_a.manager)
    # then they see no location at all, rather than every location of the organization
    response = client.get(reverse("admin:accounts_location_changelist"))
    assert list(response.context["cl"].result_list) == []
    change = reverse("admin:accounts_location_change", args=[tenant_a.other_location.pk])
    assert client.get(change).status_code == 404


def test_a_member_of_two_organizations_works_in_both_and_sees_neither_others(
    tenant_a, tenant_b, client_for
):
    # given A's owner also works as staff for a third organization, whose customer exists
    third = OrganizationFactory(name="Charlie")
    MembershipFactory(organization=third, user=tenant_a.owner, role=Role.STAFF)
    charlie_customer = CustomerFactory(organization=third, full_name="Charlie Customer")
    client = client_for(tenant_a.owner)

    # when they open the customer list
    response = client.get(reverse("admin:accounts_customer_changelist"))

    # then it has both of their organizations' customers and its filter offers both, never B
    body = response.content.decode()
    assert tenant_a.customer.full_name in body
    assert charlie_customer.full_name in body
    assert tenant_b.customer.full_name not in body
    organization_filter = next(
        spec for spec in response.context["cl"].filter_specs if spec.field_path == "organization"
    )
    assert {label for _, label in organization_filter.lookup_choices} == {"Alpha", "Charlie"}
    # and each role holds only where it was given: owner in A, staff (read only) in Charlie
    change_url = "admin:accounts_customer_change"
    assert client.post(reverse(change_url, args=[charlie_customer.pk]), {}).status_code == 403
    assert client.get(reverse(change_url, args=[tenant_a.customer.pk])).status_code == 200


def autocomplete(client, term: str = "") -> list[str]:
    response = client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "accounts",
            "model_name": "membership",
            "field_name": "locations",
            "term": term,
        },
    )
    assert response.status_code == 200
    return [result["text"] for result in json.loads(response.content)["results"]]


def test_location_autocomplete_stays_inside_what_the_user_may_see(tenant_a, tenant_b, client_for):
    assert sorted(autocomplete(client_for(tenant_a.owner))) == sorted(
        [tenant_a.location.name, tenant_a.other_location.name]
    )
    assert autocomplete(client_for(tenant_a.manager)) == [tenant_a.location.name]
    assert autocomplete(client_for(tenant_a.owner), term="Bravo") == []


def test_add_forms_offer_only_the_organizations_where_the_user_may_add(
    tenant_a, tenant_b, client_for
):
    response = client_for(tenant_a.manager).get(reverse("admin:accounts_customer_add"))
    choices = response.context["adminform"].form.fields["organization"].queryset
    assert list(choices) == [tenant_a.organization]


def test_owner_cannot_create_a_location_in_another_organization(tenant_a, tenant_b, client_for):
    response = client_for(tenant_a.owner).post(
        reverse("admin:accounts_location_add"),
        {
            "organization": tenant_b.organization.pk,
            "name": "Sneaky",
            "slug": "sneaky",
            "time_zone": "Europe/Helsinki",
            "street_address": "x",
            "postal_code": "1",
            "city": "x",
            "country": "FI",
        },
    )
    assert response.status_code == 200
    assert "organization" in response.context["adminform"].form.errors
    with scopes_disabled():
        assert not Location.objects.filter(slug="sneaky").exists()


def test_owner_invites_a_new_member_by_email(
    tenant_a, client_for, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(tenant_a.owner).post(
            reverse("admin:accounts_membership_add"),
            {
                "organization": tenant_a.organization.pk,
                "email": "New.Barber@Example.com",
                "role": "staff",
                "limited_to_locations": "on",
                "locations": [tenant_a.location.pk],
            },
        )
    assert response.status_code == 302
    user = User.objects.get(email="new.barber@example.com")
    assert not user.has_usable_password()
    # and the invitation, through the account email outbox, carries a working link to choose
    # a password
    (invitation,) = mail.outbox
    assert invitation.to == ["new.barber@example.com"]
    assert AccountEmail.objects.get(user=user).kind == AccountEmailKind.STAFF_INVITATION
    assert AccountEmail.objects.get(user=user).sent_at is not None
    link = invitation.body.split(settings.SITE_URL)[1].split()[0]
    set_password_page = client_for(None).get(link, follow=True)
    assert "new_password1" in set_password_page.content.decode()
    with scopes_disabled():
        membership = Membership.objects.get(user=user)
        assert membership.organization == tenant_a.organization
        assert list(membership.locations.all()) == [tenant_a.location]


@pytest.mark.parametrize(
    ("role", "limited", "locations_of", "error_field"),
    [
        ("staff", "on", "other", "locations"),  # another organization's location
        ("owner", "on", "own", "limited_to_locations"),  # owners are never limited
        ("staff", "on", None, "locations"),  # limited to no location at all
        ("staff", "", "own", "locations"),  # locations given but not limited: ambiguous
    ],
)
def test_membership_invite_refuses_bad_locations_and_writes_nothing(
    role, limited, locations_of, error_field, tenant_a, tenant_b, client_for
):
    locations = {"own": [tenant_a.location.pk], "other": [tenant_b.location.pk], None: []}
    response = client_for(tenant_a.owner).post(
        reverse("admin:accounts_membership_add"),
        {
            "organization": tenant_a.organization.pk,
            "email": "someone@example.com",
            "role": role,
            "limited_to_locations": limited,
            "locations": locations[locations_of],
        },
    )
    assert response.status_code == 200
    assert error_field in response.context["adminform"].form.errors
    assert not User.objects.filter(email="someone@example.com").exists()


def test_membership_invite_refuses_an_existing_member(tenant_a, client_for):
    response = client_for(tenant_a.owner).post(
        reverse("admin:accounts_membership_add"),
        {
            "organization": tenant_a.organization.pk,
            "email": tenant_a.staff.email,
            "role": "manager",
        },
    )
    assert response.status_code == 200
    assert "already a member" in str(response.context["adminform"].form.errors["email"])


def test_bulk_delete_cannot_reach_another_organizations_rows(tenant_a, tenant_b, client_for):
    # The owner may delete A's customers; slipping B's id into the selection deletes nothing of B.
    client_for(tenant_a.owner).post(
        reverse("admin:accounts_customer_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [tenant_a.customer.pk, tenant_b.customer.pk],
            "post": "yes",
        },
    )
    with scopes_disabled():
        assert not Customer.objects.filter(pk=tenant_a.customer.pk).exists()
        assert Customer.objects.filter(pk=tenant_b.customer.pk).exists()


def test_the_last_owner_can_be_neither_removed_nor_demoted(tenant_a, client_for):
    with scopes_disabled():
        owner = Membership.objects.get(user=tenant_a.owner)
    client = client_for(tenant_a.owner)
    delete = reverse("admin:accounts_membership_delete", args=[owner.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    response = client.post(
        reverse("admin:accounts_membership_change", args=[owner.pk]), {"role": "staff"}
    )
    assert "at least one owner" in str(response.context["adminform"].form.errors)
    with scopes_disabled():
        owner.refresh_from_db()
    assert owner.role == Role.OWNER

"""What the admin shows: lists, filters and autocomplete never reveal another tenant's rows."""

import json

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.models import Location, Membership, Role, User
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


def test_a_limited_manager_sees_only_their_locations_in_list_and_filters(
    tenant_a, tenant_b, client_for
):
    client = client_for(tenant_a.manager)
    locations = client.get(reverse("admin:accounts_location_changelist")).content.decode()
    assert tenant_a.location.name in locations
    assert tenant_a.other_location.name not in locations

    # The membership list's location filter offers only locations the manager may see.
    memberships = client.get(reverse("admin:accounts_membership_changelist"))
    location_filter = next(
        spec for spec in memberships.context["cl"].filter_specs if spec.field_path == "locations"
    )
    offered = {label for _, label in location_filter.lookup_choices}
    assert offered <= {tenant_a.location.name}


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


def test_owner_invites_a_new_member_by_email(tenant_a, client_for):
    response = client_for(tenant_a.owner).post(
        reverse("admin:accounts_membership_add"),
        {
            "organization": tenant_a.organization.pk,
            "email": "New.Barber@Example.com",
            "role": "staff",
            "locations": [tenant_a.location.pk],
        },
    )
    assert response.status_code == 302
    user = User.objects.get(email="new.barber@example.com")
    assert not user.has_usable_password()
    with scopes_disabled():
        membership = Membership.objects.get(user=user)
        assert membership.organization == tenant_a.organization
        assert list(membership.locations.all()) == [tenant_a.location]


@pytest.mark.parametrize(
    ("role", "locations_of", "error_field"),
    [
        ("staff", "other", "locations"),  # another organization's location
        ("owner", "own", "locations"),  # owners are never limited to locations
    ],
)
def test_membership_invite_refuses_bad_locations_and_writes_nothing(
    role, locations_of, error_field, tenant_a, tenant_b, client_for
):
    location = (tenant_b if locations_of == "other" else tenant_a).location
    response = client_for(tenant_a.owner).post(
        reverse("admin:accounts_membership_add"),
        {
            "organization": tenant_a.organization.pk,
            "email": "someone@example.com",
            "role": role,
            "locations": [location.pk],
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


def test_bulk_delete_refuses_rows_the_user_may_not_delete(tenant_a, client_for):
    # The manager may see customers but not delete them; the bulk action must not go around that.
    response = client_for(tenant_a.manager).post(
        reverse("admin:accounts_customer_changelist"),
        {"action": "delete_selected", "_selected_action": [tenant_a.customer.pk], "post": "yes"},
    )
    assert response.status_code in (200, 403)
    with scopes_disabled():
        assert tenant_a.customer.__class__.objects.filter(pk=tenant_a.customer.pk).exists()

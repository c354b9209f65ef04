"""The admin fits the business from its data: the menu and the resources' names follow the
kinds of resource and service an organization has, and a one-organization member's add forms
start in their organization."""

import pytest
from django.urls import reverse

from accounts.models import Role
from bookings.models import ServiceKind
from tests.factories import (
    CarFactory,
    MembershipFactory,
    OrganizationFactory,
    ResourceFactory,
    ServiceFactory,
)
from tests.scenarios import CarWash, Shop

CAR_ENTRIES = {"Car", "CarReview"}


def menu(client) -> dict[str, str]:
    """The admin index's entries: model name -> the name shown."""
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    return {
        entry["object_name"]: str(entry["name"])
        for app in response.context["app_list"]
        for entry in app["models"]
    }


@pytest.fixture
def wash(db) -> CarWash:
    return CarWash()


@pytest.fixture
def rental_owner(db):
    shop = Shop()  # a bay and two cars
    return MembershipFactory(organization=shop.organization, role=Role.OWNER).user


def test_a_car_wash_has_no_cars_in_its_menu(wash, client_for):
    entries = menu(client_for(wash.owner))
    assert not CAR_ENTRIES & set(entries)
    assert {"Resource", "Maintenance", "Service"} <= set(entries)


def test_a_business_with_cars_has_cars_and_their_reviews(rental_owner, client_for):
    assert set(menu(client_for(rental_owner))) >= CAR_ENTRIES
    assert client_for(rental_owner).get(reverse("admin:fleet_car_changelist")).status_code == 200


def test_the_first_car_resource_brings_cars_into_the_menu(wash, client_for):
    CarFactory(resource__location=wash.location)
    assert set(menu(client_for(wash.owner))) >= CAR_ENTRIES


def test_a_platform_admin_sees_everything(wash, platform_admin, client_for):
    assert set(menu(client_for(platform_admin))) >= CAR_ENTRIES


def test_an_owner_of_a_wash_and_a_rental_company_sees_cars(wash, rental_owner, client_for):
    MembershipFactory(organization=wash.organization, user=rental_owner, role=Role.OWNER)
    assert set(menu(client_for(rental_owner))) >= CAR_ENTRIES


def test_a_barbershops_resources_are_its_staff_members(db, client_for):
    # given a barbershop whose only resources are its barbers' time
    shop = OrganizationFactory(name="Barbers")
    owner = MembershipFactory(organization=shop, role=Role.OWNER).user
    barber = MembershipFactory(organization=shop, role=Role.STAFF)
    ResourceFactory(
        location__organization=shop, kind="staff", name="Chair of Ville", membership=barber
    )
    client = client_for(owner)

    assert menu(client)["Resource"] == "Staff members"
    response = client.get(reverse("admin:fleet_resource_changelist"))
    assert response.context["title"] == "Staff members"
    assert "kind" not in response.context["cl"].list_display  # the same on every row
    assert "membership" in response.context["cl"].list_display
    add = client.get(reverse("admin:fleet_resource_add"))
    assert add.context["adminform"].form.initial["kind"] == "staff"


def test_resources_are_named_by_every_kind_present(rental_owner, client_for):
    client = client_for(rental_owner)
    assert menu(client)["Resource"] == "Bays and cars"
    response = client.get(reverse("admin:fleet_resource_changelist"))
    assert {"kind"} <= set(response.context["cl"].list_display)
    assert "membership" not in response.context["cl"].list_display  # no staff members' time


def test_a_rental_service_has_no_vehicle_prices_and_an_appointment_has(wash, client_for):
    rental = ServiceFactory(
        organization=wash.organization, kind=ServiceKind.RENTAL, duration_minutes=0
    )
    client = client_for(wash.owner)

    def inlines(service) -> int:
        url = reverse("admin:bookings_service_change", args=[service.pk])
        return len(client.get(url).context["inline_admin_formsets"])

    assert inlines(wash.service) == 1
    assert inlines(rental) == 0


def test_a_rentals_only_business_adds_services_without_vehicle_prices(db, client_for):
    org = OrganizationFactory()
    owner = MembershipFactory(organization=org, role=Role.OWNER).user
    ServiceFactory(organization=org, kind=ServiceKind.RENTAL, duration_minutes=0)
    response = client_for(owner).get(reverse("admin:bookings_service_add"))
    assert response.context["inline_admin_formsets"] == []


@pytest.mark.parametrize("url_name", ["admin:accounts_location_add", "admin:bookings_service_add"])
def test_a_one_organization_owner_adds_in_their_organization(url_name, tenant_a, client_for):
    response = client_for(tenant_a.owner).get(reverse(url_name))

    field = response.context["adminform"].form["organization"]
    assert field.value() == tenant_a.organization.pk
    assert [str(label) for _, label in field.field.choices] == [tenant_a.organization.name]


def test_an_owner_of_two_organizations_chooses(tenant_a, tenant_b, client_for):
    MembershipFactory(organization=tenant_b.organization, user=tenant_a.owner, role=Role.OWNER)
    response = client_for(tenant_a.owner).get(reverse("admin:accounts_location_add"))

    field = response.context["adminform"].form["organization"]
    assert field.value() is None
    assert len(field.field.choices) == 3  # the empty choice and both organizations

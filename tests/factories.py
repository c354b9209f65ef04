"""Factories whose sub-factories keep related rows inside one organization."""

from datetime import time
from decimal import Decimal

import factory
from django_scopes import scopes_disabled

from accounts.models import Customer, Location, Membership, Organization, Role, User


class TenantFactory(factory.django.DjangoModelFactory):
    """Test set-up writes across tenants on purpose, so it runs with scopes disabled."""

    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        with scopes_disabled():
            return super()._create(model_class, *args, **kwargs)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", "password")

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save(update_fields=["password"])


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    slug = factory.Sequence(lambda n: f"org-{n}")
    name = factory.Sequence(lambda n: f"Organization {n}")
    time_zone = "Europe/Helsinki"
    currency = "EUR"


class LocationFactory(TenantFactory):
    class Meta:
        model = Location

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Location {n}")
    slug = factory.Sequence(lambda n: f"location-{n}")
    street_address = "Mannerheimintie 1"
    postal_code = "00100"
    city = "Helsinki"
    country = "FI"
    time_zone = factory.SelfAttribute("organization.time_zone")


class MembershipFactory(TenantFactory):
    class Meta:
        model = Membership
        skip_postgeneration_save = True

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.STAFF

    @factory.post_generation
    def locations(obj, create, extracted, **kwargs):
        """MembershipFactory(locations=[...]) limits the member to those locations."""
        if create and extracted:
            with scopes_disabled():
                obj.locations.set(extracted)
                obj.limited_to_locations = True
                obj.save(update_fields=["limited_to_locations"])


class CustomerFactory(TenantFactory):
    class Meta:
        model = Customer

    organization = factory.SubFactory(OrganizationFactory)
    full_name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    phone = "+358401234567"


class ResourceFactory(TenantFactory):
    class Meta:
        model = "fleet.Resource"

    location = factory.SubFactory(LocationFactory)
    organization = factory.SelfAttribute("location.organization")
    kind = "bay"
    name = factory.Sequence(lambda n: f"Bay {n}")


class CarFactory(TenantFactory):
    class Meta:
        model = "fleet.Car"

    resource = factory.SubFactory(
        ResourceFactory, kind="car", name=factory.Sequence(lambda n: f"Car {n}")
    )
    organization = factory.SelfAttribute("resource.organization")
    make = "Volvo"
    model = "V60"
    year = 2024
    daily_rate = Decimal("80.00")
    features = factory.LazyFunction(lambda: ["gps", "bluetooth"])
    seats = 5
    transmission = "automatic"


class ServiceFactory(TenantFactory):
    class Meta:
        model = "bookings.Service"
        skip_postgeneration_save = True

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Service {n}")
    kind = "appointment"
    duration_minutes = 60
    price = Decimal("30.00")
    minimum_notice_minutes = 0
    maximum_advance_days = 3650
    slot_granularity_minutes = 60

    @factory.post_generation
    def resources(obj, create, extracted, **kwargs):
        if create and extracted:
            with scopes_disabled():
                obj.resources.set(extracted)


class OpeningHoursFactory(TenantFactory):
    class Meta:
        model = "bookings.OpeningHours"

    location = factory.SubFactory(LocationFactory)
    organization = factory.SelfAttribute("location.organization")
    weekday = 0
    opens_at = time(9)
    closes_at = time(17)


def open_every_day(location, opens_at=time(9), closes_at=time(17)) -> None:
    for weekday in range(7):
        OpeningHoursFactory(
            location=location, weekday=weekday, opens_at=opens_at, closes_at=closes_at
        )

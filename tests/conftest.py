from datetime import UTC, datetime

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client

from accounts.models import Role
from tests.factories import (
    CustomerFactory,
    LocationFactory,
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
)


class Tenant:
    """One organization with two locations, a member of every role and a customer account.

    The manager and the staff member are limited to the first location, so every test that uses
    a tenant also sees whether location limits hold.
    """

    def __init__(self, name: str) -> None:
        self.organization = OrganizationFactory(name=name, slug=name.lower())
        self.location = LocationFactory(organization=self.organization, name=f"{name} Main")
        self.other_location = LocationFactory(organization=self.organization, name=f"{name} Annex")
        self.owner = MembershipFactory(organization=self.organization, role=Role.OWNER).user
        self.manager_membership = MembershipFactory(
            organization=self.organization, role=Role.MANAGER, locations=[self.location]
        )
        self.manager = self.manager_membership.user
        self.staff_membership = MembershipFactory(
            organization=self.organization, role=Role.STAFF, locations=[self.location]
        )
        self.staff = self.staff_membership.user
        self.customer_user = UserFactory()
        self.customer = CustomerFactory(
            organization=self.organization,
            full_name=f"{name} Customer",
            email=f"customer@{name.lower()}.example",
            user=self.customer_user,
        )

    def user(self, role: str):
        return {
            "owner": self.owner,
            "manager": self.manager,
            "staff": self.staff,
            "customer": self.customer_user,
        }[role]


@pytest.fixture
def tenant_a(db) -> Tenant:
    return Tenant("Alpha")


@pytest.fixture
def tenant_b(db) -> Tenant:
    return Tenant("Bravo")


@pytest.fixture
def platform_admin(db):
    return UserFactory(is_superuser=True)


@pytest.fixture
def client_for():
    """A test client signed in as the given user (None: anonymous)."""

    def make(user) -> Client:
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    return make


# Engine and API tests book in January 2030 with the clock set to a month before, so "too soon"
# and "too far ahead" are decided against a known now whatever the day the suite runs.
NOW = datetime(2029, 12, 7, 12, tzinfo=UTC)


@pytest.fixture
def fixed_now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def empty_cache():
    """Availability and throttles live in the cache; each test starts and ends without them."""
    cache.clear()
    yield
    cache.clear()

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django_scopes import scopes_disabled
from knox.models import AuthToken
from rest_framework.test import APIClient

from bookings.models import BookingSource, ServiceKind
from bookings.services import booking_create
from tests.conftest import Tenant
from tests.factories import CarFactory, ResourceFactory, ServiceFactory, open_every_day

HELSINKI = ZoneInfo("Europe/Helsinki")
# Local times on a Monday a month after NOW (tests/conftest.py).
MONDAY_10 = datetime(2030, 1, 7, 10, tzinfo=HELSINKI)
MONDAY_11 = datetime(2030, 1, 7, 11, tzinfo=HELSINKI)


@pytest.fixture(autouse=True)
def api_clock(fixed_now, empty_cache):
    """Every API test runs at NOW with empty caches (availability and throttles)."""


class ApiTenant(Tenant):
    """A Tenant with something to book and two bookings of its customer.

    The staff member's own time is a resource at the main location, so their schedule holds
    `booking`; `other_booking` is on a bay at the annex, outside the manager's and staff's reach.
    """

    def __init__(self, name: str) -> None:
        super().__init__(name)
        open_every_day(self.location)
        open_every_day(self.other_location)
        self.staff_time = ResourceFactory(
            location=self.location,
            kind="staff",
            name="Staff time",
            membership=self.staff_membership,
        )
        self.bay = ResourceFactory(location=self.other_location, name="Annex bay")
        self.service = ServiceFactory(
            organization=self.organization, name="Wash", resources=[self.staff_time, self.bay]
        )
        self.car = CarFactory(resource__location=self.location)
        self.rental = ServiceFactory(
            organization=self.organization,
            name="Rental",
            kind=ServiceKind.RENTAL,
            duration_minutes=0,
            resources=[self.car.resource],
        )
        with scopes_disabled():
            self.booking = self.book(resource=self.staff_time)
            self.other_booking = self.book(resource=self.bay, location=self.other_location)

    def book(self, **fields):
        return booking_create(
            **{
                "actor": None,
                "source": BookingSource.CUSTOMER,
                "service": self.service,
                "customer": self.customer,
                "location": self.location,
                "starts_at": MONDAY_10,
                **fields,
            }
        )


@pytest.fixture
def alpha(db) -> ApiTenant:
    return ApiTenant("Alpha")


@pytest.fixture
def bravo(db) -> ApiTenant:
    return ApiTenant("Bravo")


def bearer_client(user=None) -> APIClient:
    """A client that signs its requests with a real token of `user` (None: anonymous)."""
    client = APIClient()
    if user is not None:
        _, token = AuthToken.objects.create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def api():
    return bearer_client

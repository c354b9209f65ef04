from datetime import UTC, datetime

import pytest

from bookings.models import BookingSource
from bookings.services import booking_create
from tests.factories import (
    CustomerFactory,
    LocationFactory,
    OrganizationFactory,
    ResourceFactory,
    ServiceFactory,
    open_every_day,
)


@pytest.fixture(autouse=True)
def engine_clock(fixed_now, empty_cache):
    """Every engine test runs at NOW (tests/conftest.py) with an empty cache."""


class CarWash:
    """A Helsinki car wash: two bays, open 09-17 every day, a one-hour wash on the hour."""

    def __init__(self) -> None:
        self.organization = OrganizationFactory(
            name="Wash", slug="wash", time_zone="Europe/Helsinki"
        )
        self.location = LocationFactory(organization=self.organization, time_zone="Europe/Helsinki")
        open_every_day(self.location)
        self.bay1 = ResourceFactory(location=self.location, name="Bay 1")
        self.bay2 = ResourceFactory(location=self.location, name="Bay 2")
        self.service = ServiceFactory(
            organization=self.organization, name="Wash", resources=[self.bay1, self.bay2]
        )
        self.customer = CustomerFactory(organization=self.organization)


@pytest.fixture
def wash(db) -> CarWash:
    return CarWash()


EIGHT = datetime(2030, 1, 7, 8, tzinfo=UTC)  # 10:00 in Helsinki on MONDAY


def book(wash: CarWash, starts_at: datetime = EIGHT, **kwargs):
    """Book the wash through the service, as a customer would; kwargs override anything."""
    fields = {
        "actor": None,
        "source": BookingSource.CUSTOMER,
        "service": wash.service,
        "location": wash.location,
        "customer": wash.customer,
        "starts_at": starts_at,
    }
    return booking_create(**(fields | kwargs))


# A Monday far enough ahead that notice rules never interfere unless a test sets `now`.
MONDAY = datetime(2030, 1, 7, tzinfo=UTC).date()

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from bookings.models import ServiceKind, ServiceVehiclePrice
from bookings.services import guest_booking_create
from tests.factories import (
    CarFactory,
    LocationFactory,
    OrganizationFactory,
    ResourceFactory,
    ServiceFactory,
    open_every_day,
)

HELSINKI = ZoneInfo("Europe/Helsinki")
# A Monday a month after NOW (tests/conftest.py), in Helsinki's winter time (UTC+2).
MONDAY_10 = datetime(2030, 1, 7, 10, tzinfo=HELSINKI)


@pytest.fixture(autouse=True)
def pages_clock(fixed_now, empty_cache):
    """Every page test runs at NOW with an empty availability cache."""


class Shop:
    """A Helsinki business that washes cars in one bay and rents out two cars, open 9-17."""

    def __init__(self, slug: str = "shop") -> None:
        self.organization = OrganizationFactory(
            slug=slug, name=f"Shop {slug}", brand_color="#7a1f5c", contact_email="hi@shop.example"
        )
        self.location = LocationFactory(organization=self.organization, slug="centre")
        open_every_day(self.location)
        self.bay = ResourceFactory(location=self.location, name="Bay")
        self.wash = ServiceFactory(
            organization=self.organization, name="Wash", resources=[self.bay]
        )
        with scopes_disabled():
            for vehicle_type, price in (("sedan", "25.00"), ("suv", "35.00")):
                ServiceVehiclePrice.objects.create(
                    organization=self.organization,
                    service=self.wash,
                    vehicle_type=vehicle_type,
                    price=Decimal(price),
                )
        self.car = CarFactory(resource__location=self.location, make="Volvo", model="V60")
        self.other_car = CarFactory(
            resource__location=self.location, make="Skoda", model="Octavia", features=["tow_bar"]
        )
        self.rental = ServiceFactory(
            organization=self.organization,
            name="Rental",
            kind=ServiceKind.RENTAL,
            duration_minutes=0,
            resources=[self.car.resource, self.other_car.resource],
        )

    def url(self, name: str, *args) -> str:
        return reverse(f"pages:{name}", args=[self.organization.slug, *args])

    def book_wash(self, starts_at: datetime, email: str = "aino@example.com", **fields):
        """A wash booked by a guest, as the pages do it (outside any request's scope)."""
        return self._book(service=self.wash, starts_at=starts_at, email=email, **fields)

    def rent(self, car, starts_at: datetime, days: int = 2):
        return self._book(
            service=self.rental,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(days=days),
            resource=car.resource,
            email="renter@example.com",
        )

    def _book(self, **fields):
        fields.setdefault("full_name", "Aino Virtanen")
        with scopes_disabled():
            return guest_booking_create(
                organization=self.organization, location=self.location, **fields
            )


@pytest.fixture
def shop(db) -> Shop:
    return Shop()


@pytest.fixture
def other_shop(db) -> Shop:
    return Shop("other")

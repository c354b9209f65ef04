"""The worlds tests share and the times they book at, each defined once.

Conftests hold fixtures that build these; test modules import the times from here.
"""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.urls import reverse
from django_scopes import scope, scopes_disabled

from accounts.models import Role
from bookings.models import Booking, BookingSource, BookingStatus, ServiceKind, ServiceVehiclePrice
from bookings.services import booking_create, guest_booking_create
from fleet.models import ResourceKind
from tests.factories import (
    BookingFactory,
    CarFactory,
    CustomerFactory,
    LocationFactory,
    MembershipFactory,
    OrganizationFactory,
    ResourceFactory,
    ServiceFactory,
    UserFactory,
    open_every_day,
)

# --- Times ---------------------------------------------------------------------------------------

HELSINKI = ZoneInfo("Europe/Helsinki")
# Engine and API tests book in January 2030 with the clock set to a month before, so "too soon"
# and "too far ahead" are decided against a known now whatever the day the suite runs.
NOW = datetime(2029, 12, 7, 12, tzinfo=UTC)
# A Monday a month after NOW, far enough ahead that notice rules never interfere unless a test
# sets `now`; Helsinki keeps winter time then (UTC+2).
MONDAY = date(2030, 1, 7)
MONDAY_10 = datetime.combine(MONDAY, time(10), tzinfo=HELSINKI)
MONDAY_11 = datetime.combine(MONDAY, time(11), tzinfo=HELSINKI)
EIGHT = MONDAY_10.astimezone(UTC)  # 08:00 UTC: 10:00 in Helsinki on MONDAY
# MONDAY at noon in Helsinki, as a client writes it in a request.
SLOT = datetime.combine(MONDAY, time(12), tzinfo=HELSINKI).isoformat()
# The reporting tenant's bookings: one done two days before NOW, two later on NOW's day.
TWO_DAYS_AGO = NOW - timedelta(days=2)
LATER_TODAY = NOW + timedelta(hours=2)


# --- Tenants with members ------------------------------------------------------------------------


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


class StaffedTenant(Tenant):
    """A Tenant open every day at both locations whose staff member's own time is a resource
    at the main location, so their schedule holds what is booked on it."""

    def __init__(self, name: str, staff_time_name: str) -> None:
        super().__init__(name)
        open_every_day(self.location)
        open_every_day(self.other_location)
        self.staff_time = ResourceFactory(
            location=self.location,
            kind="staff",
            name=staff_time_name,
            membership=self.staff_membership,
        )


class ApiTenant(StaffedTenant):
    """A Tenant with something to book and two bookings of its customer.

    The staff member's own time is a resource at the main location, so their schedule holds
    `booking`; `other_booking` is on a bay at the annex, outside the manager's and staff's reach.
    """

    def __init__(self, name: str) -> None:
        super().__init__(name, staff_time_name="Staff time")
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

    def book(self, **fields) -> Booking:
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


class ReportingTenant(StaffedTenant):
    """A tenant with a completed, paid booking two days ago at each location, and two bookings
    later today at the main location: one on the staff member's own time, one on a bay.

    Its figures give themselves away by their prices.
    """

    def __init__(self, name: str, main_price: str, annex_price: str) -> None:
        super().__init__(name, staff_time_name=f"{name} staff time")
        self.main_bay = ResourceFactory(location=self.location, name=f"{name} main bay")
        self.annex_bay = ResourceFactory(location=self.other_location, name=f"{name} annex bay")
        self.service = ServiceFactory(organization=self.organization, name=f"{name} wash")
        self.annex_service = ServiceFactory(organization=self.organization, name=f"{name} polish")
        self.main_price, self.annex_price = Decimal(main_price), Decimal(annex_price)
        self.book(self.main_bay, self.service, TWO_DAYS_AGO, self.main_price, done=True)
        self.book(self.annex_bay, self.annex_service, TWO_DAYS_AGO, self.annex_price, done=True)
        self.own = self.book(self.staff_time, self.service, LATER_TODAY, self.main_price)
        self.not_own = self.book(self.main_bay, self.service, LATER_TODAY, self.main_price)

    def book(self, resource, service, starts_at, price, *, done: bool = False) -> Booking:
        return BookingFactory(
            past=done,
            resource=resource,
            service=service,
            customer=self.customer,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=1),
            status=BookingStatus.COMPLETED if done else BookingStatus.CONFIRMED,
            total_price=price,
        )


class Engine:
    """A tenant's bookable world: a bay at each location, the staff member's own chair, a
    service they all serve, and a booking on each, made by staff at EIGHT."""

    def __init__(self, tenant: Tenant) -> None:
        org = tenant.organization
        self.tenant = tenant
        for location in (tenant.location, tenant.other_location):
            open_every_day(location)
        self.bay = ResourceFactory(location=tenant.location, name=f"{org.name} bay")
        self.bay_elsewhere = ResourceFactory(
            location=tenant.other_location, name=f"{org.name} far bay"
        )
        self.chair = ResourceFactory(
            location=tenant.location,
            kind=ResourceKind.STAFF,
            membership=tenant.staff_membership,
            name=f"{org.name} chair",
        )
        self.service = ServiceFactory(
            organization=org, resources=[self.bay, self.bay_elsewhere, self.chair]
        )
        with scope(organization=org):
            self.own_booking = self.book(self.chair, tenant.location)
            self.bay_booking = self.book(self.bay, tenant.location)
            self.far_booking = self.book(self.bay_elsewhere, tenant.other_location)

    def book(self, resource, location) -> Booking:
        return booking_create(
            actor=None,
            source=BookingSource.STAFF,
            service=self.service,
            location=location,
            customer=self.tenant.customer,
            starts_at=EIGHT,
            resource=resource,
        )


# --- Businesses without members ------------------------------------------------------------------


class CarWash:
    """A Helsinki car wash: two bays, open 09-17 every day, a one-hour wash on the hour, and
    its owner.

    `CarWash("Other", "other-wash")` is a second business of the same shape.
    """

    def __init__(self, name: str = "Wash", slug: str = "wash") -> None:
        self.organization = OrganizationFactory(name=name, slug=slug, time_zone="Europe/Helsinki")
        self.location = LocationFactory(organization=self.organization, time_zone="Europe/Helsinki")
        open_every_day(self.location)
        self.bay1 = ResourceFactory(location=self.location, name="Bay 1")
        self.bay2 = ResourceFactory(location=self.location, name="Bay 2")
        self.service = ServiceFactory(
            organization=self.organization, name="Wash", resources=[self.bay1, self.bay2]
        )
        self.customer = CustomerFactory(organization=self.organization)
        # Staff changes (past the customers' cut-off) are made by someone the role table lets.
        self.owner = MembershipFactory(organization=self.organization, role=Role.OWNER).user


def book(wash: CarWash, starts_at: datetime = EIGHT, **kwargs) -> Booking:
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

    def book_wash(self, starts_at: datetime, email: str = "aino@example.com", **fields) -> Booking:
        """A wash booked by a guest, as the pages do it (outside any request's scope)."""
        return self._book(service=self.wash, starts_at=starts_at, email=email, **fields)

    def rent(self, car, starts_at: datetime, days: int = 2) -> Booking:
        return self._book(
            service=self.rental,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(days=days),
            resource=car.resource,
            email="renter@example.com",
        )

    def _book(self, **fields) -> Booking:
        fields.setdefault("full_name", "Aino Virtanen")
        with scopes_disabled():
            return guest_booking_create(
                organization=self.organization, location=self.location, **fields
            )

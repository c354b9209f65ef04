"""A tenant with known bookings whose figures give themselves away by their prices."""

from datetime import timedelta
from decimal import Decimal

from django_scopes import scopes_disabled

from bookings.models import Booking, BookingSource, BookingStatus, PaymentStatus
from bookings.services import new_confirmation_code
from tests.conftest import NOW, Tenant
from tests.factories import ResourceFactory, ServiceFactory, open_every_day

TWO_DAYS_AGO = NOW - timedelta(days=2)
LATER_TODAY = NOW + timedelta(hours=2)


class ReportingTenant(Tenant):
    """A tenant with a completed, paid booking two days ago at each location, and two bookings
    later today at the main location: one on the staff member's own time, one on a bay."""

    def __init__(self, name: str, main_price: str, annex_price: str) -> None:
        super().__init__(name)
        open_every_day(self.location)
        open_every_day(self.other_location)
        self.staff_time = ResourceFactory(
            location=self.location,
            kind="staff",
            name=f"{name} staff time",
            membership=self.staff_membership,
        )
        self.main_bay = ResourceFactory(location=self.location, name=f"{name} main bay")
        self.annex_bay = ResourceFactory(location=self.other_location, name=f"{name} annex bay")
        self.service = ServiceFactory(organization=self.organization, name=f"{name} wash")
        self.annex_service = ServiceFactory(organization=self.organization, name=f"{name} polish")
        self.main_price, self.annex_price = Decimal(main_price), Decimal(annex_price)
        with scopes_disabled():
            self.book(self.main_bay, self.service, TWO_DAYS_AGO, self.main_price, done=True)
            self.book(self.annex_bay, self.annex_service, TWO_DAYS_AGO, self.annex_price, done=True)
            self.own = self.book(self.staff_time, self.service, LATER_TODAY, self.main_price)
            self.not_own = self.book(self.main_bay, self.service, LATER_TODAY, self.main_price)

    def book(self, resource, service, starts_at, price, *, done: bool = False) -> Booking:
        return Booking.objects.create(
            organization=self.organization,
            location=resource.location,
            customer=self.customer,
            service=service,
            resource=resource,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=1),
            status=BookingStatus.COMPLETED if done else BookingStatus.CONFIRMED,
            payment_status=PaymentStatus.PAID if done else PaymentStatus.UNPAID,
            total_price=price,
            currency="EUR",
            code=new_confirmation_code(),
            source=BookingSource.STAFF,
        )

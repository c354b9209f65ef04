"""Factories whose sub-factories keep related rows inside one organization."""

from datetime import datetime, time, timedelta
from decimal import Decimal

import factory
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts.models import Customer, Location, Membership, Organization, Role, User
from bookings.models import (
    Booking,
    BookingSource,
    BookingStatus,
    Payment,
    PaymentKind,
    PaymentMethod,
    PaymentStatus,
    ServiceKind,
)
from bookings.services.occupancy import new_confirmation_code


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


class CarResourceFactory(ResourceFactory):
    """A car's resource with its Car row, for a booking that rents it."""

    class Meta:
        skip_postgeneration_save = True

    kind = "car"
    name = factory.Sequence(lambda n: f"Car {n}")
    car = factory.RelatedFactory(CarFactory, factory_related_name="resource")


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


def _next_full_hour(days: int) -> datetime:
    """A full hour `days` from now (negative: ago), on the clock a test may have fixed."""
    return timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(days=days)


class OccupancyFactory(TenantFactory):
    """The resource's time a booking takes, buffers included, as the engine writes it."""

    class Meta:
        model = "bookings.Occupancy"

    booking = factory.SubFactory("tests.factories.BookingFactory")
    organization = factory.SelfAttribute("booking.organization")
    resource = factory.SelfAttribute("booking.resource")
    starts_at = factory.LazyAttribute(
        lambda o: o.booking.starts_at - timedelta(minutes=o.booking.service.buffer_before_minutes)
    )
    ends_at = factory.LazyAttribute(
        lambda o: o.booking.ends_at + timedelta(minutes=o.booking.service.buffer_after_minutes)
    )


# A deposit is this share of the price (30.00 -> 6.00), in the factory as in the demo data.
DEPOSIT_SHARE = Decimal("0.20")


def payments_for(booking: Booking) -> list[Payment]:
    """The payment rows that make the booking's payment_status true, as the desk would have
    taken them: the price in full, a deposit, or the price paid and refunded."""
    price = booking.total_price
    if price <= 0 or booking.payment_status == PaymentStatus.UNPAID:
        return []

    def row(kind: str, amount: Decimal, **fields) -> Payment:
        return Payment(
            organization_id=booking.organization_id,
            booking=booking,
            kind=kind,
            method=PaymentMethod.CARD,
            amount=amount,
            currency=booking.currency,
            **fields,
        )

    if booking.payment_status == PaymentStatus.DEPOSIT_PAID:
        deposit = (price * DEPOSIT_SHARE).quantize(Decimal("0.01"))
        return [row(PaymentKind.PAYMENT, deposit, is_deposit=True)]
    rows = [row(PaymentKind.PAYMENT, price)]
    if booking.payment_status == PaymentStatus.REFUNDED:
        rows.append(row(PaymentKind.REFUND, price))
    return rows


class BookingFactory(TenantFactory):
    """A booking row as set-up (history, figures, races on rows already there).

    Tests of the engine book through bookings.services instead. Everything follows the
    resource: its location and organization, and a service and customer of that organization;
    `resource__location=...` books at a location of one's own. A booking paid, partly paid or
    refunded gets the payment rows that say so (analytics' revenue is their sum);
    `payments=False` leaves them out.
    """

    class Meta:
        model = Booking
        skip_postgeneration_save = True

    class Params:
        days = 2  # a rental's length
        past = factory.Trait(
            starts_at=factory.LazyFunction(lambda: _next_full_hour(-2)),
            status=BookingStatus.COMPLETED,
            payment_status=PaymentStatus.PAID,
        )
        with_occupancy = factory.Trait(
            occupancy=factory.RelatedFactory(OccupancyFactory, factory_related_name="booking")
        )
        rental = factory.Trait(
            resource=factory.SubFactory(CarResourceFactory),
            service=factory.SubFactory(
                ServiceFactory,
                organization=factory.SelfAttribute("..organization"),
                name="Rental",
                kind=ServiceKind.RENTAL,
                duration_minutes=0,
                price=Decimal("80.00"),
            ),
            ends_at=factory.LazyAttribute(lambda o: o.starts_at + timedelta(days=o.days)),
        )

    resource = factory.SubFactory(ResourceFactory)
    location = factory.SelfAttribute("resource.location")
    organization = factory.SelfAttribute("resource.organization")
    service = factory.SubFactory(
        ServiceFactory, organization=factory.SelfAttribute("..organization")
    )
    customer = factory.SubFactory(
        CustomerFactory, organization=factory.SelfAttribute("..organization")
    )
    starts_at = factory.LazyFunction(lambda: _next_full_hour(1))
    ends_at = factory.LazyAttribute(
        lambda o: o.starts_at + timedelta(minutes=o.service.duration_minutes)
    )
    status = BookingStatus.PENDING  # as the engine leaves a new booking
    payment_status = PaymentStatus.UNPAID
    total_price = factory.SelfAttribute("service.price")
    currency = factory.SelfAttribute("organization.currency")
    code = factory.LazyFunction(new_confirmation_code)
    source = BookingSource.STAFF

    @factory.post_generation
    def payments(obj, create, extracted, **kwargs):
        if create and extracted is not False:
            with scopes_disabled():
                Payment.objects.bulk_create(payments_for(obj))

    @factory.post_generation
    def created_at(obj, create, extracted, **kwargs):
        """created_at is auto_now_add: a booking made at another time is stamped afterwards."""
        if create and extracted is not None:
            with scopes_disabled():
                Booking.objects.filter(pk=obj.pk).update(created_at=extracted)
            obj.created_at = extracted

"""The booking engine's part of the demo data (called by `manage.py seed_demo`).

Idempotent like the rest of the demo: rows are found by natural keys and updated.
"""

from contextlib import suppress
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from accounts.models import Customer, Location, Membership, Organization, Role
from bookings.errors import SlotUnavailable
from bookings.models import (
    Booking,
    BookingSource,
    OpeningHours,
    Service,
    ServiceKind,
    ServiceVehiclePrice,
)
from bookings.selectors import service_slots
from bookings.services import booking_create
from fleet.models import Car, Resource, ResourceKind

WEEKDAYS, SATURDAY, SUNDAY = range(5), 5, 6

# kind -> (weekday hours, Saturday hours, Sunday hours); several intervals give a break.
HOURS = {
    "car wash": ([(time(8), time(20))], [(time(9), time(18))], [(time(10), time(16))]),
    "car rental": ([(time(7), time(22))], [(time(8), time(20))], [(time(8), time(20))]),
    "barbershop": (
        [(time(9), time(13)), (time(14), time(19))],
        [(time(10), time(16))],
        [],
    ),
}

CARS = [
    (
        "Volvo",
        "XC60",
        2024,
        "89.00",
        ["gps", "bluetooth", "heated_seats", "tow_bar"],
        5,
        "automatic",
    ),
    (
        "Tesla",
        "Model 3",
        2025,
        "109.00",
        ["gps", "bluetooth", "electric", "carplay"],
        5,
        "automatic",
    ),
    ("Volkswagen", "Golf", 2023, "59.00", ["bluetooth", "air_conditioning"], 5, "manual"),
    ("Toyota", "Proace Verso", 2024, "129.00", ["gps", "bluetooth", "child_seat"], 8, "automatic"),
]


def _hours(location: Location, kind: str) -> None:
    weekdays, saturday, sunday = HOURS[kind]
    for weekday in range(7):
        intervals = weekdays if weekday in WEEKDAYS else saturday if weekday == SATURDAY else sunday
        OpeningHours.objects.filter(location=location, weekday=weekday).delete()
        for opens_at, closes_at in intervals:
            OpeningHours.objects.create(
                organization=location.organization,
                location=location,
                weekday=weekday,
                opens_at=opens_at,
                closes_at=closes_at,
            )


def _resource(location: Location, kind: str, name: str, membership=None) -> Resource:
    resource, _ = Resource.objects.update_or_create(
        location=location,
        name=name,
        defaults={"organization": location.organization, "kind": kind, "membership": membership},
    )
    return resource


def _service(organization: Organization, name: str, resources: list[Resource], **fields) -> Service:
    service, _ = Service.objects.update_or_create(
        organization=organization, name=name, defaults=fields
    )
    service.resources.set(resources)
    return service


def seed_engine(organization: Organization, kind: str, locations: list[Location]) -> None:
    for location in locations:
        _hours(location, kind)

    if kind == "car wash":
        bays = [
            _resource(loc, ResourceKind.BAY, f"Bay {n}") for loc in locations for n in (1, 2, 3)
        ]
        for name, minutes, base, prices in [
            ("Express wash", 20, "15.00", {"suv": "19.00", "van": "24.00"}),
            ("Premium wash", 45, "35.00", {"suv": "42.00", "van": "49.00"}),
            ("Full detailing", 180, "149.00", {"suv": "179.00", "van": "199.00"}),
        ]:
            service = _service(
                organization,
                name,
                bays,
                kind=ServiceKind.APPOINTMENT,
                duration_minutes=minutes,
                buffer_after_minutes=5,
                price=Decimal(base),
                slot_granularity_minutes=15,
            )
            for vehicle_type, price in prices.items():
                ServiceVehiclePrice.objects.update_or_create(
                    service=service,
                    vehicle_type=vehicle_type,
                    defaults={"organization": organization, "price": Decimal(price)},
                )

    elif kind == "car rental":
        cars = []
        for index, (make, model, year, rate, features, seats, gearbox) in enumerate(CARS):
            location = locations[index % len(locations)]
            resource = _resource(location, ResourceKind.CAR, f"{make} {model}")
            Car.objects.update_or_create(
                resource=resource,
                defaults={
                    "organization": organization,
                    "make": make,
                    "model": model,
                    "year": year,
                    "daily_rate": Decimal(rate),
                    "features": features,
                    "seats": seats,
                    "transmission": gearbox,
                },
            )
            cars.append(resource)
        _service(
            organization,
            "Car rental",
            cars,
            kind=ServiceKind.RENTAL,
            minimum_notice_minutes=120,
            maximum_advance_days=365,
        )

    elif kind == "barbershop":
        chairs = []
        barbers = Membership.objects.filter(organization=organization, role=Role.STAFF)
        for membership in barbers.select_related("user"):
            for location in locations:
                if membership.limited_to_locations and location not in membership.locations.all():
                    continue
                chairs.append(
                    _resource(
                        location, ResourceKind.STAFF, membership.user.get_full_name(), membership
                    )
                )
        _service(
            organization,
            "Haircut",
            chairs,
            kind=ServiceKind.APPOINTMENT,
            duration_minutes=30,
            buffer_after_minutes=10,
            price=Decimal("28.00"),
            slot_granularity_minutes=15,
        )
        _service(
            organization,
            "Beard trim",
            chairs,
            kind=ServiceKind.APPOINTMENT,
            duration_minutes=20,
            price=Decimal("18.00"),
            slot_granularity_minutes=10,
        )


def seed_bookings(organization: Organization, customers: list[Customer]) -> None:
    """A few upcoming bookings in the first free slots, once (a second run adds none)."""
    if Booking.objects.filter(organization=organization).exists():
        return
    tomorrow = timezone.localdate() + timedelta(days=1)
    for service in Service.objects.filter(organization=organization, kind=ServiceKind.APPOINTMENT):
        location = service.resources.first().location
        slots = service_slots(
            service=service,
            location=location,
            date_from=tomorrow,
            date_to=tomorrow + timedelta(days=6),
            use_cache=False,
        )
        for slot, customer in zip(slots[::3], customers, strict=False):
            with suppress(SlotUnavailable):  # an earlier demo booking may have taken it
                booking_create(
                    actor=None,
                    source=BookingSource.STAFF,
                    service=service,
                    location=location,
                    customer=customer,
                    starts_at=slot.starts_at,
                )
    rental = Service.objects.filter(organization=organization, kind=ServiceKind.RENTAL).first()
    if rental is not None:
        for days_ahead, (resource, customer) in enumerate(
            zip(rental.resources.all(), customers, strict=False), start=2
        ):
            local = datetime.combine(
                tomorrow + timedelta(days=days_ahead), time(10), tzinfo=resource.location.time_zone
            )
            booking_create(
                actor=None,
                source=BookingSource.STAFF,
                service=rental,
                location=resource.location,
                customer=customer,
                starts_at=local,
                ends_at=local + timedelta(days=days_ahead),
                resource=resource,
            )

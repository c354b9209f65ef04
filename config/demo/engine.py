"""The booking engine's part of the demo data (called by `manage.py seed_demo`).

Idempotent like the rest of the demo: rows are found by natural keys and updated.
"""

import random
from contextlib import suppress
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from accounts.models import Customer, Location, Membership, Organization, Role
from bookings.errors import SlotUnavailable
from bookings.models import (
    Booking,
    BookingSource,
    BookingStatus,
    OpeningHours,
    PaymentStatus,
    Service,
    ServiceKind,
    ServiceVehiclePrice,
)
from bookings.policy import RELEASING_STATUSES
from bookings.selectors import service_slots
from bookings.services import booking_create
from bookings.services.occupancy import new_confirmation_code
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


HISTORY_DAYS = 42
# Inside every demo location's opening hours, five hours apart: longer than any demo service.
HISTORY_HOURS = (time(10), time(15))


def seed_history(organization: Organization, customers: list[Customer]) -> None:
    """Six weeks of past bookings, so the dashboard has figures: once (a second run adds none).

    Written in bulk like the benchmark's (the services refuse to book the past), with what the
    services guarantee: one occupancy per kept booking, never overlapping, a timeline entry.
    """
    if Booking.objects.filter(organization=organization, starts_at__lt=timezone.now()).exists():
        return
    rng = random.Random(organization.slug)
    today = timezone.localdate()
    resources = Resource.objects.filter(organization=organization).prefetch_related(
        "location__opening_hours", "services"
    )
    bookings = [
        booking
        for resource in resources.select_related("car", "location")
        for days_ago in range(HISTORY_DAYS, 0, -1)
        for booking in _history_on(resource, today - timedelta(days=days_ago), days_ago, rng)
    ]
    past_bookings_bulk_create(bookings, customers=customers, rng=rng)


def _history_on(resource: Resource, day, days_ago: int, rng: random.Random) -> list[Booking]:
    """A resource's bookings on one past day: a rental a week per car, or up to one booking
    per service at its own hour (so they never overlap)."""
    location = resource.location
    if not any(h.weekday == day.weekday() for h in location.opening_hours.all()):
        return []
    bookings = []
    for index, service in enumerate(sorted(resource.services.all(), key=lambda s: s.pk)):
        if service.kind == ServiceKind.RENTAL:
            if day.weekday() != resource.pk % 7 or days_ago < 3:
                continue
            starts_at = datetime.combine(day, time(10), tzinfo=location.time_zone)
            ends_at, price = starts_at + timedelta(days=2), resource.car.daily_rate * 2
        elif index < len(HISTORY_HOURS) and rng.random() < 0.7:
            starts_at = datetime.combine(day, HISTORY_HOURS[index], tzinfo=location.time_zone)
            ends_at = starts_at + timedelta(minutes=min(service.duration_minutes, 240))
            price = service.price
        else:
            continue
        bookings.append(
            Booking(
                organization=resource.organization,
                location=location,
                service=service,
                resource=resource,
                starts_at=starts_at,
                ends_at=ends_at,
                total_price=price,
                currency=resource.organization.currency,
                source=BookingSource.CUSTOMER,
            )
        )
        if service.kind == ServiceKind.RENTAL:
            break  # the car is out: nothing else on it
    return bookings


# How past bookings ended, and how often: most were completed, some cancelled, a few no-shows.
PAST_OUTCOMES = (
    [BookingStatus.COMPLETED, BookingStatus.CANCELLED, BookingStatus.NO_SHOW],
    [85, 10, 5],
)


def past_bookings_bulk_create(
    bookings: list[Booking], *, customers: list[Customer], rng: random.Random
) -> list[Booking]:
    """Give past bookings an outcome, a customer and a creation time, and write them in bulk."""
    for booking in bookings:
        booking.customer = rng.choice(customers)
        booking.code = new_confirmation_code()
        booking.status = rng.choices(*PAST_OUTCOMES)[0]
        booking.payment_status = PaymentStatus.UNPAID
        if booking.status == BookingStatus.COMPLETED:
            booking.payment_status = rng.choices(
                [PaymentStatus.PAID, PaymentStatus.REFUNDED, PaymentStatus.UNPAID], [90, 4, 6]
            )[0]
    # Made up to two weeks ahead, in the afternoon before.
    made_at = [b.starts_at - timedelta(days=rng.randrange(14), hours=3) for b in bookings]
    return bookings_bulk_write(bookings, made_at=made_at)


def bookings_bulk_write(bookings: list[Booking], *, made_at: list[datetime]) -> list[Booking]:
    """Write seeded bookings in bulk with what the services would have written beside them:
    the time each was made, an occupancy per booking that holds its time, and the timeline's
    first entry. The caller guarantees that kept bookings never overlap on a resource."""
    created = Booking.objects.bulk_create(bookings, batch_size=5000)
    ids = [booking.pk for booking in created]
    with connection.cursor() as cursor:
        # created_at is auto_now_add, which stamped them all "now".
        cursor.execute(
            """UPDATE bookings_booking SET created_at = made.at
            FROM unnest(%s::bigint[], %s::timestamptz[]) AS made(id, at)
            WHERE bookings_booking.id = made.id""",
            [ids, made_at],
        )
        # Derived in the database: building these rows in Python took longer than the bookings.
        cursor.execute(
            """INSERT INTO bookings_occupancy
                (organization_id, resource_id, starts_at, ends_at, booking_id)
            SELECT organization_id, resource_id, starts_at, ends_at, id
            FROM bookings_booking
            WHERE id = ANY(%s) AND status <> ALL(%s)""",
            [ids, list(RELEASING_STATUSES)],
        )
        cursor.execute(
            """INSERT INTO bookings_bookingevent
                (organization_id, booking_id, kind, from_status, to_status, changes, created_at)
            SELECT organization_id, id, 'created', '', status, '{}', created_at
            FROM bookings_booking
            WHERE id = ANY(%s)""",
            [ids],
        )
    return created

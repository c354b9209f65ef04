"""The booking engine's part of the demo data (called by `manage.py seed_demo`).

Idempotent like the rest of the demo: rows are found by natural keys and updated.
"""

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import Customer, Location, Membership, Organization, Role
from bookings.models import (
    Booking,
    BookingEvent,
    BookingSource,
    BookingStatus,
    OpeningHours,
    PaymentStatus,
    Service,
    ServiceKind,
    ServiceVehiclePrice,
)
from bookings.policy import RELEASING_STATUSES
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


UPCOMING_DAYS = 14
# An appointment resource's day: a booking in about every other free hour.
UPCOMING_SHARE = 0.55
# Each car is rented for two days out of every three, from 10:00 to 10:00 (by the date's
# ordinal, so runs on different days plan the same rentals and never overlap).
RENTAL_CYCLE, RENTAL_DAYS = 3, 2
# (choices, weights): how a booking stands by where it is in time, and what was paid for it.
ENDED = ([BookingStatus.COMPLETED, BookingStatus.NO_SHOW, BookingStatus.CANCELLED], [75, 10, 15])
AHEAD = ([BookingStatus.CONFIRMED, BookingStatus.PENDING, BookingStatus.CANCELLED], [60, 25, 15])
PAID_BY_STATUS = {
    BookingStatus.COMPLETED: (
        [PaymentStatus.PAID, PaymentStatus.REFUNDED, PaymentStatus.UNPAID],
        [85, 5, 10],
    ),
    BookingStatus.IN_PROGRESS: ([PaymentStatus.DEPOSIT_PAID, PaymentStatus.UNPAID], [50, 50]),
    BookingStatus.CONFIRMED: ([PaymentStatus.UNPAID, PaymentStatus.DEPOSIT_PAID], [65, 35]),
    BookingStatus.PENDING: ([PaymentStatus.UNPAID], [1]),
    # A cancelled booking kept its deposit, had it refunded, or had paid nothing.
    BookingStatus.CANCELLED: (
        [PaymentStatus.UNPAID, PaymentStatus.DEPOSIT_PAID, PaymentStatus.REFUNDED],
        [50, 25, 25],
    ),
    BookingStatus.NO_SHOW: ([PaymentStatus.UNPAID, PaymentStatus.DEPOSIT_PAID], [60, 40]),
}


def seed_upcoming(organization: Organization, customers: list[Customer]) -> None:
    """Today and the next two weeks, booked in every status, some paid (cash, card, a deposit,
    a refund), so the staff calendar and today's dashboard are worth opening.

    Written in bulk, since today's earlier hours are past (which the services refuse to book):
    at each location a walk-in is under way now, after a customer served and a no-show in the
    two hours before it (a car returned a little while ago, at a rental desk), whatever the
    hour the demo is seeded at; the days ahead are confirmed, pending or cancelled.

    Idempotent by location and local day: a day that any booking there already touches is left
    alone (decided before anything is written), so a second run adds nothing and a run on a
    later day fills only the new days.
    """
    now = timezone.now()
    resources = (
        Resource.objects.filter(organization=organization)
        .select_related("location", "car")
        .prefetch_related("location__opening_hours", "services")
        .order_by("pk")
    )
    walk_ins: set[int] = set()  # the first resource of each location that takes appointments
    planned: dict[tuple[Location, date], list[Booking]] = {}
    for resource in resources:
        services = sorted(resource.services.all(), key=lambda s: s.pk)
        appointments = bool(services) and services[0].kind == ServiceKind.APPOINTMENT
        walk_in = appointments and resource.location_id not in walk_ins
        if walk_in:
            walk_ins.add(resource.location_id)
        today = timezone.localdate(now, resource.location.time_zone)
        for day in (today + timedelta(days=n) for n in range(UPCOMING_DAYS + 1)):
            rng = random.Random(f"{organization.slug}-{resource.pk}-{day.isoformat()}")
            planned.setdefault((resource.location, day), []).extend(
                _upcoming_on(resource, services, day, now, rng, walk_in=walk_in and day == today)
            )
    days = {
        key: bookings for key, bookings in planned.items() if bookings and not _day_touched(*key)
    }
    rng = random.Random(organization.slug)
    bookings = [booking for day in days.values() for booking in day]
    _every_status(bookings, now, rng)
    for booking in bookings:
        booking.customer = rng.choice(customers)
        booking.code = new_confirmation_code()
        booking.payment_status = rng.choices(*PAID_BY_STATUS[booking.status])[0]
    _every_payment(bookings, rng)
    for day in days.values():
        # Made up to a week before it starts, never after now.
        made_at = [
            min(now, b.starts_at) - timedelta(days=rng.randrange(7), hours=rng.randrange(1, 9))
            for b in day
        ]
        try:
            with transaction.atomic():
                bookings_bulk_write(day, made_at=made_at)
        except IntegrityError:
            continue  # a booking made on the pages meanwhile holds some of this time: leave it


def _day_touched(location: Location, day: date) -> bool:
    midnight = datetime.combine(day, time(0), tzinfo=location.time_zone)
    return Booking.objects.filter(
        location=location, starts_at__lt=midnight + timedelta(days=1), ends_at__gt=midnight
    ).exists()


def _every_status(bookings: list[Booking], now: datetime, rng: random.Random) -> None:
    """Over what was drawn, make sure every status shows: over and ahead of now."""
    for group, wanted in (
        (
            [b for b in bookings if b.ends_at <= now],
            [BookingStatus.COMPLETED, BookingStatus.NO_SHOW],
        ),
        (
            [b for b in bookings if b.starts_at > now],
            [BookingStatus.CONFIRMED, BookingStatus.PENDING, BookingStatus.CANCELLED],
        ),
    ):
        if len(group) >= len(wanted) and not set(wanted) <= {b.status for b in group}:
            for booking, status in zip(rng.sample(group, len(wanted)), wanted, strict=True):
                booking.status = status


def _every_payment(bookings: list[Booking], rng: random.Random) -> None:
    """Over what was drawn, make sure the desk's every case shows: paid in full, a deposit on
    a confirmed booking, a deposit kept by a no-show, a payment refunded on cancelling."""
    for status, paid in (
        (BookingStatus.COMPLETED, PaymentStatus.PAID),
        (BookingStatus.CONFIRMED, PaymentStatus.DEPOSIT_PAID),
        (BookingStatus.NO_SHOW, PaymentStatus.DEPOSIT_PAID),
        (BookingStatus.CANCELLED, PaymentStatus.REFUNDED),
    ):
        candidates = [b for b in bookings if b.status == status]
        if candidates and not any(b.payment_status == paid for b in candidates):
            rng.choice(candidates).payment_status = paid


def _upcoming_on(
    resource: Resource,
    services: list[Service],
    day: date,
    now: datetime,
    rng: random.Random,
    *,
    walk_in: bool,
) -> list[Booking]:
    """One resource's bookings on one local day: a two-day rental on a car every third day
    (today: picked up already, or else one returned a little while ago), or appointments on
    the hour inside the opening hours that never overlap each other or today's walk-in and the
    two hours before it."""
    if not services:
        return []
    tz = resource.location.time_zone
    today = day == timezone.localdate(now, tz)
    hour = now.astimezone(tz).replace(minute=0, second=0, microsecond=0)
    periods: list[tuple[datetime, datetime, Service, Decimal]] = []
    if services[0].kind == ServiceKind.RENTAL:
        price = resource.car.daily_rate * RENTAL_DAYS
        if (day.toordinal() + resource.pk) % RENTAL_CYCLE == 0:
            pick_up = datetime.combine(day, time(10), tzinfo=tz)
            if today:  # under way now
                pick_up = min(pick_up, hour)
            periods.append((pick_up, pick_up + timedelta(days=RENTAL_DAYS), services[0], price))
        elif today:  # out since this time yesterday, back an hour ago
            periods.append(
                (hour - timedelta(days=1), hour - timedelta(hours=1), services[0], price)
            )
    else:
        if walk_in:
            service = services[0]
            for hours_before in (2, 1, 0):
                starts_at = hour - timedelta(hours=hours_before)
                periods.append((starts_at, starts_at + timedelta(hours=1), service, service.price))
        for hours in resource.location.opening_hours.all():
            if hours.weekday != day.weekday():
                continue
            start = datetime.combine(day, hours.opens_at, tzinfo=tz)
            closes = datetime.combine(day, hours.closes_at, tzinfo=tz)
            if hours.closes_at == time(0):
                closes += timedelta(days=1)
            while start < closes:
                service = rng.choice(services)
                end = start + timedelta(minutes=service.duration_minutes)
                after = end + timedelta(minutes=service.buffer_after_minutes)
                free = all(after <= s or start >= e for s, e, _, _ in periods)
                if free and end <= closes and rng.random() < UPCOMING_SHARE:
                    periods.append((start, end, service, service.price))
                start += timedelta(hours=1)
    bookings = []
    for starts_at, ends_at, service, price in periods:
        if ends_at <= now:
            status = rng.choices(*ENDED)[0]
        elif starts_at <= now:
            status = BookingStatus.IN_PROGRESS
        else:
            status = rng.choices(*AHEAD)[0]
        bookings.append(
            Booking(
                organization=resource.organization,
                location=resource.location,
                service=service,
                resource=resource,
                starts_at=starts_at,
                ends_at=ends_at,
                status=status,
                total_price=price,
                currency=resource.organization.currency,
                source=BookingSource.STAFF,
            )
        )
    return bookings


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
    now = timezone.now()
    resources = Resource.objects.filter(organization=organization).prefetch_related(
        "location__opening_hours", "services"
    )
    bookings = [
        booking
        for resource in resources.select_related("car", "location")
        # The days before the location's own today, which seed_upcoming begins with.
        for today in [timezone.localdate(now, resource.location.time_zone)]
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


# A deposit is this share of the price, in seeded data as in tests/factories.py.
DEPOSIT_SHARE = Decimal("0.20")

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
    the time each was made, an occupancy per booking that holds its time, the timeline's
    first entry, and the payments its payment status says were taken. The caller guarantees
    that kept bookings never overlap on a resource."""
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
            SELECT organization_id, id, 'created', '', status, %s, created_at
            FROM bookings_booking
            WHERE id = ANY(%s)""",
            # `changes` is encrypted (config/encryption.py): an empty document, as its field
            # stores it; one token serves every row, as each decrypts on its own.
            [BookingEvent._meta.get_field("changes").get_db_prep_save({}, connection), ids],
        )
        # The payment rows that make each booking's payment status true, as the desk takes
        # them: a deposit when it was made, the price when it started (or when it was made, if
        # that is still to come), and for a refunded one the price given back once it was over.
        # Revenue is read from these rows (analytics/figures.py), not from the status.
        cursor.execute(
            """INSERT INTO bookings_payment
                (organization_id, booking_id, kind, method, provider, provider_reference,
                 amount, currency, is_deposit, created_at, note)
            SELECT organization_id, id, 'payment',
                CASE WHEN id %% 3 = 0 THEN 'cash' ELSE 'card' END, '', '',
                CASE WHEN payment_status = 'deposit_paid'
                    THEN round(total_price * %s, 2) ELSE total_price END,
                currency, payment_status = 'deposit_paid',
                CASE WHEN payment_status = 'deposit_paid' OR starts_at > now()
                    THEN created_at ELSE starts_at END, ''
            FROM bookings_booking
            WHERE id = ANY(%s) AND total_price > 0
                AND payment_status IN ('paid', 'deposit_paid', 'refunded')
            UNION ALL
            SELECT organization_id, id, 'refund',
                CASE WHEN id %% 3 = 0 THEN 'cash' ELSE 'card' END, '', '',
                total_price, currency, false, greatest(created_at, least(ends_at, now())), ''
            FROM bookings_booking
            WHERE id = ANY(%s) AND total_price > 0 AND payment_status = 'refunded'""",
            [DEPOSIT_SHARE, ids, ids],
        )
    return created

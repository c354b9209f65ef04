"""A realistic data set for measuring queries and reports: many bookings, past and future.

    python manage.py seed_benchmark --bookings 100000 [--seed 2026]

One organization, `benchmark`: 10 wash sites of 5 bays, one rental site of 6 cars, 5,000
customers and N bookings around today, half of the days before it (100 days each way for
100,000 bookings). The bays take back-to-back one-hour washes from 08:00 to 18:00 local, each
one of three services at its own price; the cars take multi-day rentals (a small share of N)
priced by bookings.pricing.quote. Past bookings are mostly completed and paid, a few refunded
or unpaid, some cancelled or no-shows; future ones are confirmed or pending, mostly unpaid,
some with a deposit paid. Each booking was made up to 14 days before it starts or, when that
is still to come, some time since the first day.

Rows are written in bulk (the services would take minutes for 100k bookings), keeping what the
services guarantee: one occupancy per active booking, no overlaps, a timeline entry each, the
payment rows its payment status stands for (revenue is read from them). The
same --seed gives the same data set, placed around the day it runs. Run `VACUUM ANALYZE` on it
before measuring (docs/indexes.md, analytics' `benchmark_analytics`).
"""

import random
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.models import Customer, Location, Organization
from bookings.models import (
    Booking,
    BookingSource,
    BookingStatus,
    OpeningHours,
    PaymentStatus,
    Service,
    ServiceKind,
)
from bookings.pricing import quote
from bookings.services.occupancy import CODE_ALPHABET, CODE_LENGTH
from config.demo.engine import PAST_OUTCOMES, bookings_bulk_write
from config.row_security import platform_wide
from fleet.models import Car, Resource, ResourceKind

SLUG = "benchmark"
TIME_ZONE = ZoneInfo("Europe/Helsinki")
LOCATIONS, BAYS_PER_LOCATION, CUSTOMERS = 10, 5, 5000
SLOTS_PER_DAY = 10  # 08:00-18:00 local, one hour each

# name, price, share of the washes
WASHES = [("Wash", "30.00", 60), ("Premium wash", "55.00", 25), ("Interior", "45.00", 15)]
# make, model, year, daily rate, seats, transmission
CARS = [
    ("Volkswagen", "Golf", 2023, "59.00", 5, "manual"),
    ("Toyota", "Corolla", 2024, "64.00", 5, "automatic"),
    ("Skoda", "Octavia Combi", 2024, "72.00", 5, "manual"),
    ("Volvo", "XC60", 2024, "89.00", 5, "automatic"),
    ("Tesla", "Model 3", 2025, "109.00", 5, "automatic"),
    ("Toyota", "Proace Verso", 2024, "129.00", 8, "automatic"),
]
RENTAL_PICK_UP = time(10)  # and return, local
RENTAL_DAYS = ([1, 2, 3, 4, 5, 7], [25, 25, 20, 12, 10, 8])
IDLE_DAYS = ([0, 1, 2, 3], [40, 30, 20, 10])
MADE_UP_TO = timedelta(days=14)
# How often a booking is made in each local hour of the day, relatively.
MADE_AT_HOUR = [1, 1, 1, 1, 1, 1, 2, 4, 6, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 7, 6, 4, 2]

# (choices, weights): a future booking's status, a booking's payment by its outcome (the
# outcomes of past ones are config.demo.engine.PAST_OUTCOMES).
AHEAD = ([BookingStatus.CONFIRMED, BookingStatus.PENDING, BookingStatus.CANCELLED], [70, 20, 10])
PAYMENT = {
    BookingStatus.COMPLETED: (
        [PaymentStatus.PAID, PaymentStatus.REFUNDED, PaymentStatus.UNPAID],
        [94, 3, 3],
    ),
    BookingStatus.IN_PROGRESS: ([PaymentStatus.UNPAID, PaymentStatus.DEPOSIT_PAID], [70, 30]),
    BookingStatus.CONFIRMED: ([PaymentStatus.UNPAID, PaymentStatus.DEPOSIT_PAID], [75, 25]),
    BookingStatus.PENDING: ([PaymentStatus.UNPAID], [1]),
    BookingStatus.CANCELLED: ([PaymentStatus.UNPAID, PaymentStatus.REFUNDED], [85, 15]),
    BookingStatus.NO_SHOW: ([PaymentStatus.UNPAID, PaymentStatus.DEPOSIT_PAID], [80, 20]),
}


class Command(BaseCommand):
    help = "Create the benchmark organization with N bookings (refuses if it exists)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--bookings", type=int, default=100_000)
        parser.add_argument("--seed", type=int, default=2026)

    @transaction.atomic
    @platform_wide("seed_benchmark: one tenant's rows in bulk")
    def handle(self, *args, bookings: int, seed: int, **options) -> None:
        if Organization.objects.filter(slug=SLUG).exists():
            raise CommandError(f"Organization '{SLUG}' exists; drop the database to reseed.")
        rng = random.Random(seed)
        organization = Organization.objects.create(
            slug=SLUG, name="Benchmark Wash", time_zone=TIME_ZONE.key
        )
        locations = Location.objects.bulk_create(
            Location(
                organization=organization,
                name=name,
                slug=slug,
                street_address="Street 1",
                postal_code="00100",
                city="Helsinki",
                country="FI",
                time_zone=TIME_ZONE.key,
            )
            for name, slug in [(f"Site {n}", f"site-{n}") for n in range(LOCATIONS)]
            + [("Rentals", "rentals")]
        )
        *wash_sites, rental_site = locations
        OpeningHours.objects.bulk_create(
            OpeningHours(
                organization=organization,
                location=location,
                weekday=weekday,
                opens_at=time(8),
                closes_at=time(18),
            )
            for location in locations
            for weekday in range(7)
        )
        bays = Resource.objects.bulk_create(
            Resource(
                organization=organization, location=location, kind=ResourceKind.BAY, name=f"Bay {n}"
            )
            for location in wash_sites
            for n in range(BAYS_PER_LOCATION)
        )
        cars = Car.objects.bulk_create(
            Car(
                organization=organization,
                resource=Resource.objects.create(
                    organization=organization,
                    location=rental_site,
                    kind=ResourceKind.CAR,
                    name=f"{make} {model}",
                ),
                make=make,
                model=model,
                year=year,
                daily_rate=Decimal(rate),
                seats=seats,
                transmission=transmission,
            )
            for make, model, year, rate, seats, transmission in CARS
        )
        washes, shares = [], [share for *_, share in WASHES]
        for name, price, _ in WASHES:
            service = Service.objects.create(
                organization=organization,
                name=name,
                kind=ServiceKind.APPOINTMENT,
                duration_minutes=60,
                price=Decimal(price),
            )
            service.resources.set(bays)
            washes.append(service)
        rental = Service.objects.create(
            organization=organization,
            name="Car rental",
            kind=ServiceKind.RENTAL,
            maximum_advance_days=365,
        )
        rental.resources.set([car.resource for car in cars])
        customers = Customer.objects.bulk_create(
            Customer(
                organization=organization,
                full_name=f"Customer {n}",
                email=f"customer{n}@bench.example",
            )
            for n in range(CUSTOMERS)
        )

        # The bays' days, half of them before today: 200 for 100,000 bookings.
        days = -(-bookings // (len(bays) * SLOTS_PER_DAY))
        now = timezone.now()
        first_day = timezone.localdate(now, TIME_ZONE) - timedelta(days=days // 2)
        plan = _Plan(
            rng=rng,
            organization=organization,
            customers=customers,
            now=now,
            first_instant=datetime.combine(first_day, time(0), tzinfo=TIME_ZONE),
        )
        # The rentals stop a week before the washes, so the latest booking is always a wash.
        last_return = first_day + timedelta(days=days - 7)
        for car in cars:
            day = first_day + timedelta(days=rng.choice(IDLE_DAYS[0]))
            while (returned := day + timedelta(days=rng.choices(*RENTAL_DAYS)[0])) <= last_return:
                starts_at = datetime.combine(day, RENTAL_PICK_UP, tzinfo=TIME_ZONE)
                ends_at = datetime.combine(returned, RENTAL_PICK_UP, tzinfo=TIME_ZONE)
                price = quote(
                    service=rental,
                    location=rental_site,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    resource=car.resource,
                ).total
                plan.add(rental, car.resource, starts_at, ends_at, price)
                day = returned + timedelta(days=rng.choices(*IDLE_DAYS)[0])
        # Each bay gets consecutive hourly slots from the first day on (past and future).
        for index in range(bookings - len(plan.rows)):
            bay = bays[index % len(bays)]
            slot = index // len(bays)
            day = first_day + timedelta(days=slot // SLOTS_PER_DAY)
            starts_at = datetime.combine(day, time(8 + slot % SLOTS_PER_DAY), tzinfo=TIME_ZONE)
            service = rng.choices(washes, shares)[0]
            plan.add(service, bay, starts_at, starts_at + timedelta(hours=1), service.price)

        # Slots and rentals above never share a resource's time, so occupancies cannot overlap.
        created = bookings_bulk_write(plan.rows, made_at=plan.made_at)
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(created)} bookings for '{SLUG}' ({len(created) - plan.rentals} washes "
                f"on {len(bays)} bays, {plan.rentals} rentals of {len(cars)} cars, "
                f"{len(customers)} customers)."
            )
        )


class _Plan:
    """The bookings to write, each with its outcome, payment, code and the instant it was made."""

    def __init__(
        self,
        *,
        rng: random.Random,
        organization: Organization,
        customers: list[Customer],
        now: datetime,
        first_instant: datetime,
    ) -> None:
        self.rng, self.organization, self.customers = rng, organization, customers
        self.now, self.first_instant = now, first_instant
        self.rows: list[Booking] = []
        self.made_at: list[datetime] = []
        self.rentals = 0
        self.codes: set[str] = set()

    def add(
        self,
        service: Service,
        resource: Resource,
        starts_at: datetime,
        ends_at: datetime,
        price: Decimal,
    ) -> None:
        rng = self.rng
        if ends_at <= self.now:
            status = rng.choices(*PAST_OUTCOMES)[0]
        elif starts_at <= self.now:
            status = BookingStatus.IN_PROGRESS
        else:
            status = rng.choices(*AHEAD)[0]
        code = ""
        while not code or code in self.codes:
            code = "".join(rng.choices(CODE_ALPHABET, k=CODE_LENGTH))
        self.codes.add(code)
        self.rows.append(
            Booking(
                organization=self.organization,
                location_id=resource.location_id,
                customer=rng.choice(self.customers),
                service=service,
                resource=resource,
                starts_at=starts_at,
                ends_at=ends_at,
                status=status,
                payment_status=rng.choices(*PAYMENT[status])[0],
                total_price=price,
                currency=self.organization.currency,
                code=code,
                source=BookingSource.CUSTOMER,
            )
        )
        self.rentals += service.kind == ServiceKind.RENTAL
        self.made_at.append(self._made_at(starts_at))

    def _made_at(self, starts_at: datetime) -> datetime:
        """Up to 14 days before the start; if that is still to come, some day since the first.

        The rule keeps analytics' `created` flat: the far future's bookings are spread evenly
        over the past, and the near future's tail off towards today as the past's begin to.
        """
        rng = self.rng
        made_at = starts_at - MADE_UP_TO * rng.random()
        if made_at > self.now:
            made_at = self.now - (self.now - self.first_instant) * rng.random()
        # Mostly in the daytime, never after the start or now.
        made_at = made_at.astimezone(TIME_ZONE).replace(
            hour=rng.choices(range(24), MADE_AT_HOUR)[0], minute=rng.randrange(60)
        )
        return min(made_at, starts_at, self.now)

"""A realistic data set for measuring queries: many bookings, past and future.

    python manage.py seed_benchmark --bookings 100000

Rows are written in bulk (the services would take minutes for 100k bookings), keeping what the
services guarantee: one occupancy per active booking, no overlaps, a timeline entry each.
"""

import random
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_scopes import scopes_disabled

from accounts.models import Customer, Location, Organization
from bookings.models import (
    RELEASING_STATUSES,
    Booking,
    BookingEvent,
    BookingSource,
    BookingStatus,
    Occupancy,
    OpeningHours,
    Service,
    ServiceKind,
)
from bookings.services import new_confirmation_code
from fleet.models import Resource, ResourceKind

SLUG = "benchmark"
LOCATIONS, BAYS_PER_LOCATION, CUSTOMERS = 10, 5, 5000
SLOTS_PER_DAY = 10  # 08:00-18:00 local, one hour each


class Command(BaseCommand):
    help = "Create the benchmark organization with N bookings (refuses if it exists)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--bookings", type=int, default=100_000)
        parser.add_argument("--seed", type=int, default=2026)

    @transaction.atomic
    @scopes_disabled()  # a platform-wide command writing one tenant's rows in bulk
    def handle(self, *args, bookings: int, seed: int, **options) -> None:
        if Organization.objects.filter(slug=SLUG).exists():
            raise CommandError(f"Organization '{SLUG}' exists; drop the database to reseed.")
        rng = random.Random(seed)
        organization = Organization.objects.create(
            slug=SLUG, name="Benchmark Wash", time_zone="Europe/Helsinki"
        )
        locations = Location.objects.bulk_create(
            Location(
                organization=organization,
                name=f"Site {n}",
                slug=f"site-{n}",
                street_address="Street 1",
                postal_code="00100",
                city="Helsinki",
                country="FI",
                time_zone="Europe/Helsinki",
            )
            for n in range(LOCATIONS)
        )
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
        resources = Resource.objects.bulk_create(
            Resource(
                organization=organization, location=location, kind=ResourceKind.BAY, name=f"Bay {n}"
            )
            for location in locations
            for n in range(BAYS_PER_LOCATION)
        )
        service = Service.objects.create(
            organization=organization,
            name="Wash",
            kind=ServiceKind.APPOINTMENT,
            duration_minutes=60,
            price=Decimal("30.00"),
        )
        service.resources.set(resources)
        customers = Customer.objects.bulk_create(
            Customer(
                organization=organization,
                full_name=f"Customer {n}",
                email=f"customer{n}@bench.example",
            )
            for n in range(CUSTOMERS)
        )

        # Each resource gets consecutive hourly slots from 100 days ago on (past and future).
        today = datetime.now(UTC).date()
        first_day = today - timedelta(days=100)
        now = datetime.now(UTC)
        rows = []
        for index in range(bookings):
            resource = resources[index % len(resources)]
            slot = index // len(resources)
            day = first_day + timedelta(days=slot // SLOTS_PER_DAY)
            starts_at = datetime.combine(day, time(6 + slot % SLOTS_PER_DAY), tzinfo=UTC)
            if starts_at < now:
                status = rng.choices(
                    [BookingStatus.COMPLETED, BookingStatus.CANCELLED, BookingStatus.NO_SHOW],
                    [85, 10, 5],
                )[0]
            else:
                status = rng.choices(
                    [BookingStatus.CONFIRMED, BookingStatus.PENDING, BookingStatus.CANCELLED],
                    [70, 20, 10],
                )[0]
            rows.append(
                Booking(
                    organization=organization,
                    location_id=resource.location_id,
                    customer=rng.choice(customers),
                    service=service,
                    resource=resource,
                    starts_at=starts_at,
                    ends_at=starts_at + timedelta(hours=1),
                    status=status,
                    total_price=Decimal("30.00"),
                    currency="EUR",
                    code=new_confirmation_code(),
                    source=BookingSource.CUSTOMER,
                )
            )
        created = Booking.objects.bulk_create(rows, batch_size=5000)
        Occupancy.objects.bulk_create(
            (
                Occupancy(
                    organization=organization,
                    resource_id=b.resource_id,
                    starts_at=b.starts_at,
                    ends_at=b.ends_at,
                    booking=b,
                )
                for b in created
                if b.status not in RELEASING_STATUSES
            ),
            batch_size=5000,
        )
        BookingEvent.objects.bulk_create(
            (
                BookingEvent(
                    organization=organization, booking=b, kind="created", to_status=b.status
                )
                for b in created
            ),
            batch_size=5000,
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(created)} bookings for '{SLUG}' ({len(resources)} resources, "
                f"{len(customers)} customers)."
            )
        )

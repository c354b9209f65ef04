"""EXPLAIN ANALYZE of the engine's real queries on the benchmark data set (seed_benchmark).

    python manage.py explain_booking_queries

The availability query is the selector's own; the others are the shapes the admin and
schedules run; the plans are what
docs/indexes.md records and what the indexes were chosen from.
"""

from datetime import UTC, datetime, time, timedelta

from django.core.management.base import BaseCommand, CommandError
from django_scopes import scope

from accounts.models import Organization
from bookings.models import Booking, BookingStatus
from bookings.selectors import occupancies_in_window, service_slots

SLUG = "benchmark"


class Command(BaseCommand):
    help = "Print the plans and timings of the booking engine's main queries."

    def handle(self, *args, **options) -> None:
        organization = Organization.objects.filter(slug=SLUG).first()
        if organization is None:
            raise CommandError("Run `manage.py seed_benchmark` first.")
        with scope(organization=organization):
            # A confirmed booking if there are future ones, else the latest: its day is measured.
            sample = (
                Booking.objects.filter(status=BookingStatus.CONFIRMED).first()
                or Booking.objects.order_by("-starts_at").first()
            )
            if sample is None:
                raise CommandError("The benchmark organization has no bookings.")
            day = sample.starts_at.date()
            window = (
                datetime.combine(day, time(0), tzinfo=UTC),
                datetime.combine(day + timedelta(days=7), time(0), tzinfo=UTC),
            )
            resource_ids = list(sample.location.resources.values_list("pk", flat=True))
            one_day = window[0] + timedelta(days=1)
            queries = [
                (
                    "occupancies of a location's resources in a week (availability)",
                    occupancies_in_window(resource_ids, window),
                ),
                (
                    "a resource's bookings in a time window",
                    Booking.objects.filter(
                        resource_id=sample.resource_id,
                        starts_at__lt=window[1],
                        ends_at__gt=window[0],
                    ).order_by("starts_at"),
                ),
                (
                    "a customer's history, newest first (first page)",
                    Booking.objects.filter(customer_id=sample.customer_id).order_by("-starts_at")[
                        :20
                    ],
                ),
                (
                    "a location's day schedule",
                    Booking.objects.filter(
                        location_id=sample.location_id,
                        starts_at__gte=window[0],
                        starts_at__lt=one_day,
                    ).order_by("starts_at"),
                ),
                (
                    "pending bookings of the organization, soonest first (status filter)",
                    Booking.objects.filter(status=BookingStatus.PENDING).order_by("starts_at")[:50],
                ),
            ]
            for title, queryset in queries:
                self.stdout.write(self.style.MIGRATE_HEADING(f"\n== {title}"))
                self.stdout.write(queryset.explain(analyze=True, buffers=True))

            started = datetime.now(UTC)
            slots = service_slots(
                service=sample.service,
                location=sample.location,
                date_from=day,
                date_to=day + timedelta(days=6),
                now=window[0] - timedelta(days=1),
                use_cache=False,
            )
            elapsed = (datetime.now(UTC) - started).total_seconds() * 1000
            self.stdout.write(
                self.style.MIGRATE_HEADING(
                    f"\n== service_slots for 7 days, uncached: {elapsed:.1f} ms "
                    f"({len(slots)} slots)"
                )
            )

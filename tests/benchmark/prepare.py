"""The platform's side of `make bench`, run with the platform's settings in a process of its own:

    python -m tests.benchmark.prepare BOOKINGS

Seeds the benchmark organization (seed_benchmark) unless it is there, adds the race track (a
site open around the clock with five bays and a wash bookable ten years ahead, so every round
of the booking race finds days of its own) and empties it, signs a customer in with an API
token, and prints what the runner needs as JSON.
"""

import json
import os
import sys
from datetime import time, timedelta
from decimal import Decimal

import django


def main(bookings: int) -> None:
    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone
    from django_scopes import scopes_disabled
    from knox.models import AuthToken

    from accounts.models import Location, Organization, User
    from bookings.models import Booking, OpeningHours, Service, ServiceKind
    from fleet.models import Resource, ResourceKind

    with scopes_disabled():
        organization = Organization.objects.filter(slug="benchmark").first()
        if (
            organization is None
            or Booking.objects.filter(organization=organization).count() < bookings
        ):
            if organization is not None:
                sys.exit(
                    f"The benchmark database holds fewer than {bookings} bookings: drop it "
                    "(make bench-clean) or ask for its size (BENCH_BOOKINGS)."
                )
            call_command("seed_benchmark", "--bookings", str(bookings))
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
            organization = Organization.objects.get(slug="benchmark")
        track, created = Location.objects.get_or_create(
            organization=organization, slug="race-track",
            defaults={"name": "Race track", "street_address": "Track 1", "postal_code": "00100",
                      "city": "Helsinki", "country": "FI", "time_zone": "Europe/Helsinki"},
        )  # fmt: skip
        if created:
            for weekday in range(7):
                OpeningHours.objects.create(
                    organization=organization,
                    location=track,
                    weekday=weekday,
                    opens_at=time(0),
                    closes_at=time(0),
                )
            bays = [Resource.objects.create(organization=organization, location=track,
                                            kind=ResourceKind.BAY, name=f"Track bay {n}")
                    for n in range(1, 6)]  # fmt: skip
            race = Service.objects.create(
                organization=organization, name="Race wash", kind=ServiceKind.APPOINTMENT,
                duration_minutes=60, price=Decimal("30.00"), minimum_notice_minutes=0,
                maximum_advance_days=3650,
            )  # fmt: skip
            race.resources.set(bays)
        race = Service.objects.get(organization=organization, name="Race wash")
        wash = Service.objects.filter(organization=organization, name="Wash").get()
        site = (
            Location.objects.filter(organization=organization)
            .exclude(pk=track.pk)
            .order_by("pk")[0]
        )
        # Each run races on an empty track (the engine's own cascade clears a run's bookings).
        Booking.objects.filter(location=track).delete()
        first_day = timezone.now().date() + timedelta(days=2)
        user, _ = User.objects.get_or_create(email="racer@bench.example",
                                             defaults={"full_name": "Bench racer"})  # fmt: skip
        _instance, token = AuthToken.objects.create(user)
    today = timezone.localdate()
    print(
        json.dumps(
            {
                "organization": organization.slug,
                "wash": wash.pk,
                "site": site.pk,
                "week_from": (today + timedelta(days=7)).isoformat(),
                "week_to": (today + timedelta(days=13)).isoformat(),
                "race": race.pk,
                "track": track.pk,
                "race_first_day": first_day.isoformat(),
                "token": token,
            }
        )
    )


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
    main(int(sys.argv[1]))

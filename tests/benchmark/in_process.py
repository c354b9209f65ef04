"""What `make bench` times inside one process, without HTTP, on the benchmark data set:

    python -m tests.benchmark.in_process

An uncached service-week of availability (issue 16: flat from 100k to 1M bookings, p95 under
15 ms): `service_slots(use_cache=False)` for SAMPLES weeks drawn at random (a fixed seed, so
every run asks the same ones) from the benchmark organization's appointment services, their
locations and the weeks its bookings span, each asked as the day before the week began.
Prints one line of JSON: the count, p50, p95 and max in milliseconds.
"""

import json
import random
import statistics
import time
from datetime import timedelta

import django

SAMPLES = 300


def main() -> None:
    django.setup()
    from django.db.models import Max, Min
    from django_scopes import scope

    from accounts.models import Organization
    from bookings.models import Booking, Service, ServiceKind
    from bookings.selectors import service_slots

    organization = Organization.objects.get(slug="benchmark")
    chooser = random.Random(16)
    with scope(organization=organization):
        span = Booking.objects.aggregate(first=Min("starts_at"), last=Max("starts_at"))
        services = list(
            Service.objects.filter(kind=ServiceKind.APPOINTMENT, is_active=True)
            .exclude(name__startswith="Race")  # the booking race's track, emptied each run
            .prefetch_related("resources__location")
        )
        pairs = [
            (service, location)
            for service in services
            for location in {resource.location for resource in service.resources.all()}
        ]
        weeks = (span["last"] - span["first"]).days // 7
        timings = []
        for _ in range(SAMPLES):
            service, location = chooser.choice(pairs)
            monday = span["first"] + timedelta(weeks=chooser.randrange(weeks))
            first = monday.date()
            started = time.perf_counter()
            service_slots(
                service=service,
                location=location,
                date_from=first,
                date_to=first + timedelta(days=6),
                now=monday - timedelta(days=1),
                use_cache=False,
            )
            timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    print(json.dumps({
        "uncached_week": {
            "count": len(timings),
            "p50_ms": round(statistics.median(timings), 2),
            "p95_ms": round(timings[int(len(timings) * 0.95) - 1], 2),
            "max_ms": round(timings[-1], 2),
        }
    }))  # fmt: skip


if __name__ == "__main__":
    main()

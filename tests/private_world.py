"""A car wash on a private cluster's database (DATABASE_URL), made through the engine in a
process of its own: the world of the drills that run on private clusters (point-in-time
recovery, read replicas), never the suite's database.

    python -m tests.private_world world           # the car wash, slug drill-wash
    python -m tests.private_world book FIRST N    # prints the codes of N bookings
    python -m tests.private_world customer EMAIL...  # an API token per new customer, a line each
    python -m tests.private_world walls           # what raw SQL sees in the wash's scope, in
                                                  # another's and in none (JSON)

Booking number k takes the k-th free one-hour slot of the wash's two bays from the day after
tomorrow on.
"""

import json
import os
import sys
from contextlib import nullcontext
from datetime import datetime, time, timedelta

import django


def main(command: str, *arguments: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    django.setup()
    from django.utils import timezone
    from django_scopes import scopes_disabled

    from accounts.models import Customer, Location, Organization
    from bookings.models import Service
    from tests.scenarios import HELSINKI, CarWash, book

    if command == "walls":
        print(json.dumps(walls()))
        return
    with scopes_disabled():
        if command == "world":
            CarWash(slug="drill-wash")
            return
        if command == "customer":
            from knox.models import AuthToken

            from tests.factories import UserFactory

            for email in arguments:
                print(AuthToken.objects.create(UserFactory(email=email))[1])
            return
        wash = CarWash.__new__(CarWash)
        wash.organization = organization = Organization.objects.get(slug="drill-wash")
        wash.location = Location.objects.get(organization=organization)
        wash.service = Service.objects.get(organization=organization)
        wash.customer = Customer.objects.filter(organization=organization).first()
        first, count = int(arguments[0]), int(arguments[1])
        day_one = timezone.localdate(timezone=HELSINKI) + timedelta(days=2)
        for number in range(first, first + count):
            slot = number // 2  # two bays: two bookings per slot
            day = day_one + timedelta(days=slot // 8)
            starts_at = datetime.combine(day, time(9 + slot % 8), tzinfo=HELSINKI)
            print(book(wash, starts_at).code, flush=True)


def walls() -> dict:
    """Raw SQL on the wash's tables in three scopes, alternating so a pooler hands the same
    server connections one scope after another: none may leak into the next transaction."""
    from django.db import connection

    from accounts.models import Organization
    from accounts.tenancy import organization_scope

    wash = Organization.objects.get(slug="drill-wash")
    seen: dict[str, list] = {"wash": [], "other": [], "none": []}
    for _ in range(5):
        for name, scope_of in (("wash", wash.pk), ("other", wash.pk + 1000), ("none", None)):
            with (
                organization_scope(scope_of) if scope_of else nullcontext(),
                connection.cursor() as cursor,
            ):
                cursor.execute(
                    "SELECT current_user, (SELECT count(*) FROM bookings_service),"
                    " (SELECT count(*) FROM accounts_location)"
                )
                seen[name].append(list(cursor.fetchone()))
    return seen


if __name__ == "__main__":
    main(*sys.argv[1:])

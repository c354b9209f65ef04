"""The world fault tests book in, written into a private cluster by its own process.

`python -m tests.faults.world <customers> <bays>` with DATABASE_URL naming the private
database prints, as JSON, what the test's clients need: the organization's slug, the service
with `bays` bays ("any bay"), its location, the days to book and one API token per customer.
The days are real days ahead (gunicorn runs on the real clock), inside the booking window.
"""

import json
import sys
from datetime import timedelta

import django

django.setup()

from django.utils import timezone  # noqa: E402
from django_scopes import scopes_disabled  # noqa: E402
from knox.models import AuthToken  # noqa: E402

from tests.factories import (  # noqa: E402
    LocationFactory,
    OrganizationFactory,
    ResourceFactory,
    ServiceFactory,
    UserFactory,
    open_every_day,
)

SLUG = "faults"
OPENS, CLOSES = 9, 17  # local hours: eight one-hour slots a day


def build(customers: int, bays: int) -> dict:
    with scopes_disabled():
        organization = OrganizationFactory(name="Faults", slug=SLUG)
        location = LocationFactory(organization=organization, name="Faults Main")
        open_every_day(location)
        resources = [ResourceFactory(location=location, name=f"Bay {n}") for n in range(bays)]
        service = ServiceFactory(organization=organization, name="Wash", resources=resources)
        tokens = [AuthToken.objects.create(user=UserFactory())[1] for _ in range(customers)]
    first_day = timezone.localdate(timezone=location.time_zone) + timedelta(days=7)
    return {
        "slug": SLUG,
        "service": service.pk,
        "location": location.pk,
        "time_zone": str(location.time_zone),
        "first_day": first_day.isoformat(),
        "hours": list(range(OPENS, CLOSES)),
        "bays": bays,
        "tokens": tokens,
    }


if __name__ == "__main__":
    print(json.dumps(build(int(sys.argv[1]), int(sys.argv[2]))))

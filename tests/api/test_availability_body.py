"""The availability answer is written directly (bookings.api.serializers.availability_body), not
field by field through DRF: it must be the very JSON the documented serializer writes."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from accounts.models import Location
from bookings.api.serializers import ServiceAvailabilitySerializer, availability_body
from bookings.selectors.availability import Slot


@pytest.mark.parametrize("zone", ["Europe/Helsinki", "UTC", "America/St_Johns", "Asia/Kolkata"])
def test_the_direct_body_is_the_serializers_json(zone):
    location = Location(pk=7, time_zone=ZoneInfo(zone))
    # Hours across the spring-forward night of 2030 in Europe, stored in UTC as the engine has them.
    start = datetime(2030, 3, 30, 20, tzinfo=UTC)
    slots = [
        Slot(starts_at=start + timedelta(hours=n), ends_at=start + timedelta(hours=n + 1),
             resource_ids=(3, 1) if n % 2 else (2,))
        for n in range(8)
    ]  # fmt: skip
    fields = {"service": 5, "date_from": date(2030, 3, 30), "date_to": date(2030, 3, 31)}

    with timezone.override(location.time_zone):
        documented = ServiceAvailabilitySerializer(
            fields | {"location": location.pk, "time_zone": zone, "slots": slots}
        ).data
    direct = availability_body(location=location, slots=slots, **fields)

    assert JSONRenderer().render(direct) == JSONRenderer().render(documented)

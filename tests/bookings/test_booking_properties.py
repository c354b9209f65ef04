"""Property: whatever sequence of creates, cancels and reschedules happens, the database never
holds two overlapping active bookings on one resource, and occupancies mirror active bookings."""

from datetime import UTC, datetime, time, timedelta
from itertools import pairwise

from django.db import transaction
from django_scopes import scope
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bookings.models import Booking, BookingSource, Occupancy
from bookings.policy import RELEASING_STATUSES
from bookings.services import booking_cancel, booking_create, booking_reschedule
from config.api.errors import DomainError
from tests.scenarios import MONDAY

# 07:00-14:00 UTC on a Monday in half hours: a 60-minute wash with a 15-minute clean-up on a
# 30-minute grid makes neighbouring requests overlap in every way.
STARTS = [
    datetime.combine(MONDAY, time(7), tzinfo=UTC) + timedelta(minutes=30 * n) for n in range(15)
]

operations = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.integers(0, len(STARTS) - 1), st.integers(0, 2)),
        st.tuples(st.just("cancel"), st.integers(0, 30), st.just(0)),
        st.tuples(st.just("reschedule"), st.integers(0, 30), st.integers(0, len(STARTS) - 1)),
    ),
    min_size=1,
    max_size=25,
)


def assert_no_overlap_and_occupancies_mirror_bookings(wash) -> None:
    active = list(
        Booking.objects.exclude(status__in=RELEASING_STATUSES).order_by("resource_id", "starts_at")
    )
    for earlier, later in pairwise(active):
        if earlier.resource_id == later.resource_id:
            assert earlier.ends_at + timedelta(minutes=15) <= later.starts_at
    occupied = {
        o.booking_id: (o.resource_id, o.starts_at, o.ends_at) for o in Occupancy.objects.all()
    }
    assert occupied == {
        b.pk: (b.resource_id, b.starts_at, b.ends_at + timedelta(minutes=15)) for b in active
    }


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=operations)
def test_random_sequences_never_double_book(wash, steps):
    with scope(organization=wash.organization), transaction.atomic():
        wash.service.buffer_after_minutes = 15
        wash.service.slot_granularity_minutes = 30
        wash.service.save(update_fields=["buffer_after_minutes", "slot_granularity_minutes"])
        bays = [None, wash.bay1, wash.bay2]  # None: any bay
        for action, a, b in steps:
            bookings = list(Booking.objects.order_by("pk"))
            try:
                if action == "create":
                    booking_create(
                        actor=None,
                        source=BookingSource.API,
                        service=wash.service,
                        location=wash.location,
                        customer=wash.customer,
                        starts_at=STARTS[a],
                        resource=bays[b],
                    )
                elif bookings and action == "cancel":
                    booking = bookings[a % len(bookings)]
                    booking_cancel(actor=None, booking=booking, expected_version=booking.version)
                elif bookings and action == "reschedule":
                    booking = bookings[a % len(bookings)]
                    booking_reschedule(
                        actor=None,
                        booking=booking,
                        expected_version=booking.version,
                        starts_at=STARTS[b],
                    )
            except DomainError:
                pass  # refused: the property is about what the database holds
            assert_no_overlap_and_occupancies_mirror_bookings(wash)
        transaction.set_rollback(True)  # every example starts from the same empty day

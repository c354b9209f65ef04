"""Booking services: creation, prices, the lifecycle, optimistic locking and the timeline."""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django_scopes import scope, scopes_disabled

from bookings.errors import (
    CancellationTooLate,
    InvalidBookingRequest,
    InvalidTransition,
    LocationClosed,
    OffGrid,
    OutsideOpeningHours,
    SlotUnavailable,
    StaleVersion,
    TooFarAhead,
    TooSoon,
)
from bookings.models import (
    Booking,
    BookingSource,
    BookingStatus,
    Closure,
    Occupancy,
    ServiceKind,
)
from bookings.services import (
    booking_cancel,
    booking_complete,
    booking_confirm,
    booking_create,
    booking_mark_no_show,
    booking_reschedule,
    booking_start,
    time_block_create,
)
from bookings.services.occupancy import CODE_ALPHABET
from tests.factories import (
    CarFactory,
    CustomerFactory,
    LocationFactory,
    OrganizationFactory,
    ServiceFactory,
    UserFactory,
    open_every_day,
)
from tests.scenarios import EIGHT, book


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def in_wash(wash):
    with scope(organization=wash.organization):
        yield wash


def test_any_resource_gets_the_first_free_one_then_the_next(in_wash):
    first, second = book(in_wash), book(in_wash)
    assert {first.resource, second.resource} == {in_wash.bay1, in_wash.bay2}
    with pytest.raises(SlotUnavailable) as taken:
        book(in_wash)
    assert (taken.value.code, taken.value.status_code) == ("slot_taken", 409)
    assert Booking.objects.count() == 2


def test_a_time_within_a_closure_is_refused_as_closed_not_taken(in_wash):
    Closure.objects.create(
        organization=in_wash.organization,
        location=in_wash.location,
        first_day=date(2030, 1, 7),
        last_day=date(2030, 1, 7),
        reason="Holiday",
    )
    with pytest.raises(LocationClosed) as refused:
        book(in_wash, starts_at=EIGHT)
    assert (refused.value.code, refused.value.status_code) == ("closed", 422)
    assert not Booking.objects.exists()


def test_a_booking_has_its_period_price_code_and_a_created_event(in_wash):
    booking = book(in_wash)
    assert (booking.starts_at, booking.ends_at) == (EIGHT, EIGHT + timedelta(hours=1))
    assert (booking.total_price, booking.currency) == (Decimal("30.00"), "EUR")
    assert booking.status == BookingStatus.PENDING and booking.version == 1
    assert len(booking.code) == 8 and set(booking.code) <= set(CODE_ALPHABET)
    event = booking.events.get()
    assert (event.kind, event.to_status) == ("created", BookingStatus.PENDING)


def test_a_chosen_resource_that_is_taken_is_refused_even_if_another_is_free(in_wash):
    book(in_wash, resource=in_wash.bay1)
    with pytest.raises(SlotUnavailable):
        book(in_wash, resource=in_wash.bay1)


@pytest.mark.parametrize(
    ("starts_at", "error"),
    [
        (utc(2030, 1, 7, 6), OutsideOpeningHours),  # 08:00 local, before opening
        (utc(2030, 1, 7, 8, 30), OffGrid),  # not on the slot grid
        (utc(2029, 12, 7, 11), TooSoon),  # in the past
        (datetime(2030, 1, 7, 8), InvalidBookingRequest),  # naive
    ],
)
def test_times_outside_the_rules_are_refused_and_nothing_is_written(in_wash, starts_at, error):
    with pytest.raises(error):
        book(in_wash, starts_at=starts_at)
    assert not Booking.objects.exists() and not Occupancy.objects.exists()


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"vehicle_type": "tank"}, InvalidBookingRequest),
        ({"starts_at": datetime(9999, 1, 4, 8, tzinfo=UTC)}, TooFarAhead),  # absurdly far
        ({"starts_at": utc(2030, 1, 7, 8, 0, 1)}, OffGrid),  # a second off the grid
    ],
)
def test_absurd_input_is_refused_and_nothing_is_written(in_wash, changes, error):
    with pytest.raises(error):
        book(in_wash, **changes)
    assert not Booking.objects.exists() and not Occupancy.objects.exists()


def test_a_rental_returning_before_its_pickup_is_refused(rental):
    with pytest.raises(InvalidBookingRequest, match="return time after"):
        rent(rental, utc(2030, 1, 9, 8), utc(2030, 1, 8, 8))
    assert not Booking.objects.exists()


def test_the_database_refuses_negative_prices_and_backwards_periods(in_wash):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        type(in_wash.service).objects.filter(pk=in_wash.service.pk).update(price=Decimal("-1"))
    booking = book(in_wash)
    with pytest.raises(IntegrityError), transaction.atomic():
        Booking.objects.filter(pk=booking.pk).update(ends_at=booking.starts_at)


def test_a_customer_of_another_organization_is_refused(in_wash):
    stranger = CustomerFactory()
    with pytest.raises(InvalidBookingRequest):
        booking_create(
            actor=None,
            source=BookingSource.API,
            service=in_wash.service,
            location=in_wash.location,
            customer=stranger,
            starts_at=EIGHT,
        )


def test_vehicle_type_prices_replace_the_base_price(in_wash):
    in_wash.service.vehicle_prices.create(
        organization=in_wash.organization, vehicle_type="suv", price=Decimal("45.50")
    )
    assert book(in_wash, vehicle_type="suv").total_price == Decimal("45.50")
    assert book(in_wash, vehicle_type="sedan").total_price == Decimal("30.00")


def test_the_lifecycle_moves_forward_and_records_each_step(in_wash):
    booking = book(in_wash)
    booking = booking_confirm(actor=None, booking=booking, expected_version=1)
    booking = booking_start(actor=None, booking=booking, expected_version=2)
    booking = booking_complete(actor=None, booking=booking, expected_version=3)
    assert booking.status == BookingStatus.COMPLETED and booking.version == 4
    assert [(e.kind, e.from_status, e.to_status) for e in booking.events.all()] == [
        ("created", "", "pending"),
        ("confirmed", "pending", "confirmed"),
        ("started", "confirmed", "in_progress"),
        ("completed", "in_progress", "completed"),
    ]


@pytest.mark.parametrize(
    ("move", "status"),
    [
        (booking_start, BookingStatus.CANCELLED),  # a cancelled booking cannot begin
        (booking_complete, BookingStatus.CONFIRMED),  # must have started
        (booking_confirm, BookingStatus.CANCELLED),
        (booking_mark_no_show, BookingStatus.COMPLETED),
    ],
)
def test_illegal_moves_are_refused_and_change_nothing(in_wash, move, status):
    booking = book(in_wash)
    Booking.objects.filter(pk=booking.pk).update(status=status)
    with pytest.raises(InvalidTransition):
        move(actor=None, booking=booking, expected_version=1)
    booking.refresh_from_db()
    assert (booking.status, booking.version, booking.events.count()) == (status, 1, 1)


def test_a_stale_version_is_refused_not_overwritten(in_wash):
    booking = book(in_wash)
    booking_confirm(actor=None, booking=booking, expected_version=1)
    with pytest.raises(StaleVersion):
        booking_cancel(actor=None, booking=booking, expected_version=1)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED


def test_cancelling_gives_the_time_back_and_keeps_the_booking(in_wash):
    booking = book(in_wash, resource=in_wash.bay1)
    booking_cancel(actor=None, booking=booking, expected_version=1, reason="Sick")
    booking.refresh_from_db()
    assert (booking.status, booking.cancellation_reason) == (BookingStatus.CANCELLED, "Sick")
    assert book(in_wash, resource=in_wash.bay1).resource == in_wash.bay1


def test_customers_cannot_cancel_inside_the_cutoff_but_staff_can(in_wash, fixed_now):
    starts_at = fixed_now + timedelta(hours=22)  # 12:00 UTC + 22 h = 12:00 local next day
    booking = book(in_wash, starts_at=starts_at.replace(minute=0))
    with pytest.raises(CancellationTooLate):
        booking_cancel(actor=None, booking=booking, expected_version=1)
    with pytest.raises(CancellationTooLate):  # a customer's own account is bound too
        booking_cancel(actor=UserFactory(), booking=booking, expected_version=1)
    booking_cancel(actor=in_wash.owner, booking=booking, expected_version=1)


def test_no_show_releases_the_slot(in_wash):
    booking = book(in_wash, resource=in_wash.bay1)
    booking = booking_confirm(actor=None, booking=booking, expected_version=1)
    booking_mark_no_show(actor=None, booking=booking, expected_version=2)
    assert not Occupancy.objects.filter(booking=booking).exists()


def test_reschedule_moves_the_booking_and_its_occupancy(in_wash):
    booking = book(in_wash, resource=in_wash.bay1)
    booking = booking_reschedule(
        actor=None,
        booking=booking,
        expected_version=1,
        starts_at=EIGHT + timedelta(hours=2),
    )
    assert booking.starts_at == EIGHT + timedelta(hours=2) and booking.version == 2
    assert Occupancy.objects.get(booking=booking).starts_at == EIGHT + timedelta(hours=2)
    assert booking.events.last().changes["from"]["starts_at"] == EIGHT.isoformat()
    # The old time is free again.
    assert book(in_wash, resource=in_wash.bay1).starts_at == EIGHT


def test_a_refused_reschedule_keeps_the_old_period(in_wash):
    mine = book(in_wash, resource=in_wash.bay1)
    book(in_wash, resource=in_wash.bay1, starts_at=EIGHT + timedelta(hours=2))
    with pytest.raises(SlotUnavailable):
        booking_reschedule(
            actor=None,
            booking=mine,
            expected_version=1,
            starts_at=EIGHT + timedelta(hours=2),
            resource=in_wash.bay1,
        )
    mine.refresh_from_db()
    assert (mine.starts_at, mine.version) == (EIGHT, 1)
    assert Occupancy.objects.get(booking=mine).starts_at == EIGHT
    # ...and nobody else can take it meanwhile.
    with pytest.raises(SlotUnavailable):
        book(in_wash, resource=in_wash.bay1)


def test_maintenance_blocks_bookings_and_is_refused_over_one(in_wash):
    time_block_create(
        actor=None,
        resource=in_wash.bay1,
        starts_at=EIGHT,
        ends_at=EIGHT + timedelta(hours=3),
        reason="Repairs",
    )
    assert book(in_wash).resource == in_wash.bay2
    with pytest.raises(SlotUnavailable):
        time_block_create(
            actor=None,
            resource=in_wash.bay2,
            starts_at=EIGHT,
            ends_at=EIGHT + timedelta(hours=1),
            reason="Repairs",
        )
    with scopes_disabled():
        assert in_wash.bay2.maintenance.count() == 0


@pytest.fixture
def rental(db):
    organization = OrganizationFactory(time_zone="Europe/Helsinki", currency="EUR")
    location = LocationFactory(organization=organization, time_zone="Europe/Helsinki")
    open_every_day(location, opens_at=time(8), closes_at=time(20))
    car = CarFactory(resource__location=location, daily_rate=Decimal("59.90"))
    service = ServiceFactory(
        organization=organization,
        kind=ServiceKind.RENTAL,
        duration_minutes=0,
        resources=[car.resource],
    )
    customer = CustomerFactory(organization=organization)
    with scope(organization=organization):
        yield location, car, service, customer


def rent(rental, starts_at, ends_at):
    location, car, service, customer = rental
    return booking_create(
        actor=None,
        source=BookingSource.CUSTOMER,
        service=service,
        location=location,
        customer=customer,
        starts_at=starts_at,
        ends_at=ends_at,
        resource=car.resource,
    )


def test_a_rental_is_priced_per_started_day_by_the_wall_clock(rental):
    # 2030-10-26 10:00 to 2030-10-28 10:00 in Helsinki crosses the autumn DST change: 49 real
    # hours (three started 24-hour periods) but two days on the customer's clock.
    booking = rent(rental, utc(2030, 10, 26, 7), utc(2030, 10, 28, 8))
    assert booking.total_price == Decimal("119.80")
    late = rent(rental, utc(2030, 11, 2, 8), utc(2030, 11, 3, 9))  # one day and an hour
    assert late.total_price == Decimal("119.80")
    same_day = rent(rental, utc(2030, 11, 5, 8), utc(2030, 11, 5, 12))
    assert same_day.total_price == Decimal("59.90")


def test_overlapping_rentals_of_one_car_are_refused(rental):
    rent(rental, utc(2030, 1, 8, 8), utc(2030, 1, 10, 8))
    with pytest.raises(SlotUnavailable):
        rent(rental, utc(2030, 1, 9, 8), utc(2030, 1, 11, 8))
    rent(rental, utc(2030, 1, 10, 8), utc(2030, 1, 11, 8))  # back-to-back is fine


def test_a_rental_must_start_and_end_within_opening_hours(rental):
    with pytest.raises(OutsideOpeningHours, match="opening hours"):
        rent(rental, utc(2030, 1, 8, 4), utc(2030, 1, 9, 8))  # 06:00 local

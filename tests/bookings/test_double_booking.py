"""No double booking, guaranteed by PostgreSQL: real concurrent transactions race for one slot."""

import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django_scopes import scope, scopes_disabled

from bookings.errors import SlotUnavailable
from bookings.models import Booking, BookingSource, Occupancy
from bookings.services import booking_create
from tests.factories import BookingFactory, ResourceFactory
from tests.scenarios import EIGHT, CarWash, book


def race(wash: CarWash, contenders: int, **kwargs) -> list[object]:
    """Start `contenders` bookings at the same instant, each on its own connection."""
    barrier = threading.Barrier(contenders)
    results: list[object] = []

    def contender() -> None:
        try:
            with scope(organization=wash.organization):
                barrier.wait()
                results.append(
                    booking_create(
                        actor=None,
                        source=BookingSource.API,
                        service=wash.service,
                        location=wash.location,
                        customer=wash.customer,
                        starts_at=EIGHT,
                        **kwargs,
                    )
                )
        except SlotUnavailable as error:
            results.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=contender) for _ in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.fixture
def racing_wash(transactional_db, fixed_now) -> CarWash:
    return CarWash()


CONTENDERS = 20


def test_racing_for_one_chosen_bay_ends_with_one_booking(racing_wash):
    results = race(racing_wash, CONTENDERS, resource=racing_wash.bay1)
    assert len(results) == CONTENDERS
    assert sum(isinstance(r, Booking) for r in results) == 1
    assert sum(isinstance(r, SlotUnavailable) for r in results) == CONTENDERS - 1
    assert all(r.code == "slot_taken" for r in results if isinstance(r, SlotUnavailable))
    with scopes_disabled():
        assert Booking.objects.count() == 1 == Occupancy.objects.count()


def test_racing_for_any_of_three_bays_fills_each_bay_exactly_once(racing_wash):
    bay3 = ResourceFactory(location=racing_wash.location, name="Bay 3")
    with scopes_disabled():
        racing_wash.service.resources.add(bay3)
    results = race(racing_wash, CONTENDERS)
    booked = [r for r in results if isinstance(r, Booking)]
    assert sorted(b.resource_id for b in booked) == sorted(
        [racing_wash.bay1.pk, racing_wash.bay2.pk, bay3.pk]
    )
    assert sum(isinstance(r, SlotUnavailable) for r in results) == CONTENDERS - 3
    with scopes_disabled():
        assert Booking.objects.count() == 3 == Occupancy.objects.count()


@pytest.mark.django_db
def test_the_constraint_itself_refuses_overlaps_written_around_the_services(wash):
    # given one occupancy on bay 1, written straight to the tables, around the services
    def occupy(resource, start, end):
        return BookingFactory(
            with_occupancy=True,
            service=wash.service,
            customer=wash.customer,
            resource=resource,
            starts_at=start,
            ends_at=end,
            total_price=0,
        )

    occupy(wash.bay1, EIGHT, EIGHT + timedelta(hours=1))

    # then an overlap on the same bay is refused by PostgreSQL
    with pytest.raises(IntegrityError), transaction.atomic():
        occupy(wash.bay1, EIGHT + timedelta(minutes=59), EIGHT + timedelta(hours=2))
    # while touching periods and other bays are fine
    occupy(wash.bay1, EIGHT + timedelta(hours=1), EIGHT + timedelta(hours=2))
    occupy(wash.bay2, EIGHT, EIGHT + timedelta(hours=1))


def test_a_drawn_confirmation_code_already_in_use_is_drawn_again_and_its_claim_taken_back(
    wash, monkeypatch
):
    # given a booking, and the next booking's first draw of a code hitting its code
    with scope(organization=wash.organization):
        first = book(wash, resource=wash.bay1)
        monkeypatch.setattr("bookings.services.creation.new_confirmation_code", lambda: first.code)

        second = book(wash, starts_at=EIGHT + timedelta(hours=2), resource=wash.bay1)

        assert second.code != first.code
        assert Booking.objects.filter(code=second.code).get() == second
        # one occupancy each: the claim made with the taken code was taken back
        assert Occupancy.objects.filter(resource=wash.bay1).count() == 2
        assert Occupancy.objects.filter(booking=second).count() == 1
        assert second.events.count() == 1 and second.emails.count() == 1

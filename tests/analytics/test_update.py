"""The figures brought up to date by recomputing only the touched days (analytics.services).

Writes mark the local days they touch (triggers of analytics migration 0005); an update
recomputes the marked days that are past and the days that became past since the last refresh.
The figures it leaves must be exactly those a full rebuild computes, and it must leave every
other day alone.
"""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.db.models import F
from django_scopes import scopes_disabled

from accounts.tenancy import organization_scope
from analytics.models import ReportView, TouchedDay, ViewRefresh
from analytics.services import figures_update, table_rebuild
from bookings.models import Booking, BookingStatus, PaymentMethod
from bookings.services.payments import payment_record
from config.row_security import platform_wide
from tests.analytics.test_figures import AS_OF, Rentals, hel
from tests.factories import BookingFactory

KEYS = {
    ReportView.LOCATION_DAY: ("location_id", "day"),
    ReportView.RESOURCE_DAY: ("resource_id", "day"),
    ReportView.OFFERING_MONTH: ("location_id", "service_id", "resource_id", "month"),
}
# A day later: Helsinki's 1 November and New York's 31 October and 1 November become past.
NEXT_DAY = AS_OF + timedelta(days=1)


def table_rows() -> dict[str, list[dict]]:
    """Every row of every figure table, sorted by its key."""
    rows = {}
    with platform_wide("tests: every organization's figures"), connection.cursor() as cursor:
        for view, key in KEYS.items():
            cursor.execute(f"SELECT * FROM {view}")
            columns = [column.name for column in cursor.description]
            found = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
            rows[view] = sorted(found, key=lambda row, key=key: tuple(row[k] for k in key))
    return rows


def rebuild_all(at: datetime) -> None:
    with time_machine.travel(at, tick=False):
        for view in ReportView:
            assert table_rebuild(view=view) is not None


def update(at: datetime):
    with time_machine.travel(at, tick=False):
        done = figures_update()
    assert done is not None
    return done


def touched_days() -> set[tuple[int, date]]:
    with scopes_disabled():
        return set(TouchedDay.objects.values_list("location_id", "day"))


@pytest.fixture
def rebuilt(db) -> Rentals:
    """The worked example of test_figures, every table rebuilt at AS_OF, no day marked."""
    rentals = Rentals()
    rebuild_all(AS_OF)
    TouchedDay.objects.all().delete()
    return rentals


def late_walk_in(s: Rentals, bay, customer, *, starts: str, made: str) -> None:
    """A completed wash in Helsinki, recorded at `made` (wall-clock times of 2029)."""
    BookingFactory(
        past=True,
        service=s.wash,
        resource=bay,
        customer=customer,
        starts_at=hel(starts),
        created_at=hel(made),
        status=BookingStatus.COMPLETED,
    )


def change_the_past(s: Rentals) -> None:
    """What a desk does to days already in the tables: outcomes, money, moves, deletions, a
    walk-in recorded late, a cancellation, and another organization's no-show."""
    h1, h3, h9, n2 = s.bookings[0], s.bookings[2], s.bookings[8], s.bookings[14]
    with scopes_disabled():
        Booking.objects.filter(pk=h1.pk).update(status=BookingStatus.CANCELLED)
        Booking.objects.filter(pk=n2.pk).update(
            starts_at=n2.starts_at - timedelta(days=2), ends_at=n2.ends_at - timedelta(days=2)
        )
        Booking.objects.filter(pk=h3.pk).delete()
        Booking.objects.filter(pk=s.b1.pk).update(status=BookingStatus.NO_SHOW)
    with organization_scope(s.organization):
        payment_record(actor=None, booking=h9, amount=Decimal("10.00"), method=PaymentMethod.CASH)
    late_walk_in(s, s.bay2, s.ben, starts="10-30 09:00", made="10-31 18:00")


def test_an_update_leaves_exactly_the_rows_a_full_rebuild_computes(rebuilt):
    # given the past changed in every way a desk changes it, and a day gone by
    change_the_past(rebuilt)

    # when the touched days are recomputed a day later
    done = update(NEXT_DAY)
    updated = table_rows()

    # then the tables hold what a full rebuild at the same moment computes
    rebuild_all(NEXT_DAY)
    assert updated == table_rows()
    assert done.as_of == NEXT_DAY
    with scopes_disabled():
        assert set(ViewRefresh.objects.values_list("as_of", flat=True)) == {NEXT_DAY}


@pytest.mark.parametrize("change", ["booked before the first", "first ones moved later"])
def test_a_moved_first_booking_moves_the_utilization_calendar_as_a_rebuild_does(rebuilt, change):
    """Utilization starts on a location's first booking's day: a booking back-dated before
    Helsinki's first (26 October), or that day's bookings moved a day later, moves where it
    starts."""
    s = rebuilt
    if change == "booked before the first":
        late_walk_in(s, s.bay1, s.ann, starts="10-20 10:00", made="10-20 09:00")
    else:
        with scopes_disabled():
            Booking.objects.filter(location=s.hel, starts_at__lt=hel("10-27 00:00")).update(
                starts_at=F("starts_at") + timedelta(days=1),
                ends_at=F("ends_at") + timedelta(days=1),
            )

    update(AS_OF)
    updated = table_rows()

    rebuild_all(AS_OF)
    assert updated == table_rows()


def test_the_control_without_the_update_the_tables_differ_from_a_rebuild(rebuilt):
    """The test above has teeth: the same changes, left in the tables as they were."""
    change_the_past(rebuilt)
    stale = table_rows()

    rebuild_all(AS_OF)

    rebuilt_rows = table_rows()
    assert all(stale[view] != rebuilt_rows[view] for view in ReportView), [
        view for view in ReportView if stale[view] == rebuilt_rows[view]
    ]


def test_an_update_recomputes_only_the_touched_days(rebuilt):
    s = rebuilt
    h10 = s.bookings[9]  # Tuesday 30 October, made on the 29th
    # given two of Helsinki's days marked by a figure no computation gives
    with platform_wide("tests: sentinels"), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE analytics_location_day SET created = 999"
            " WHERE location_id = %s AND day IN ('2029-10-26', '2029-10-30')",
            [s.hel.pk],
        )

    # when a booking of the 30th becomes a no-show, and the update runs at the same moment
    with organization_scope(s.organization):
        Booking.objects.filter(pk=h10.pk).update(status=BookingStatus.NO_SHOW)
    # (the day it was made, the 29th, counts it whatever its status: not marked)
    assert touched_days() == {(s.hel.pk, date(2029, 10, 30))}
    done = update(AS_OF)

    # then the 30th is recomputed (the sentinel is gone), the 26th is not
    assert done.days == 1
    with platform_wide("tests: the sentinels"), connection.cursor() as cursor:
        cursor.execute(
            "SELECT day, created, no_shows FROM analytics_location_day"
            " WHERE location_id = %s AND day IN ('2029-10-26', '2029-10-30') ORDER BY day",
            [s.hel.pk],
        )
        assert cursor.fetchall() == [(date(2029, 10, 26), 999, 1), (date(2029, 10, 30), 0, 1)]
    assert touched_days() == set()


def test_days_not_yet_past_stay_marked_for_a_later_update(rebuilt):
    s = rebuilt
    # given two bookings made now for next week
    with time_machine.travel(AS_OF, tick=False):
        for hour in (10, 11):
            BookingFactory(service=s.wash, resource=s.bay1, starts_at=hel(f"11-08 {hour}:00"))
    marked = touched_days()
    assert marked == {(s.hel.pk, date(2029, 11, 1)), (s.hel.pk, date(2029, 11, 8))}
    assert TouchedDay.objects.count() == 4  # a mark per write and day

    # when the update runs today: nothing of it is past, one mark of each day is kept
    assert update(AS_OF).days == 0
    assert touched_days() == marked
    assert TouchedDay.objects.count() == 2

    # a day later the day it was made is past and recomputed (with the days gone by)
    update(NEXT_DAY)
    assert touched_days() == {(s.hel.pk, date(2029, 11, 8))}


def test_a_payment_marks_the_first_day_of_its_booking(rebuilt):
    s = rebuilt
    h9 = s.bookings[8]  # 23:00 to midnight on Sunday 28 October, unpaid

    with organization_scope(s.organization):
        payment_record(actor=None, booking=h9, amount=Decimal("5.00"), method=PaymentMethod.CARD)

    assert touched_days() == {(s.hel.pk, date(2029, 10, 28))}


def test_a_table_without_its_record_is_rebuilt_whole(rebuilt):
    # given the location-day table emptied, and no record to say which days it held
    expected = table_rows()
    with platform_wide("tests: lost rows"), connection.cursor() as cursor:
        cursor.execute("DELETE FROM analytics_location_day")
    ViewRefresh.objects.filter(view=ReportView.LOCATION_DAY).delete()

    update(AS_OF)

    assert table_rows() == expected
    assert ViewRefresh.objects.filter(view=ReportView.LOCATION_DAY).exists()


def test_refresh_analytics_touched_recomputes_and_says_how_many_days(rebuilt):
    s = rebuilt
    with scopes_disabled():
        Booking.objects.filter(pk=s.bookings[0].pk).update(status=BookingStatus.NO_SHOW)
    out = StringIO()

    with time_machine.travel(AS_OF, tick=False):
        call_command("refresh_analytics", "--touched", stdout=out)

    assert out.getvalue().startswith("touched days recomputed: 1, in ")
    assert str(AS_OF.astimezone(UTC)) in out.getvalue()

"""The views' figures against numbers worked out by hand from a known set of bookings.

One organization rents and washes in Helsinki and New York; another organization books in
Helsinki on the same days. The views are refreshed at AS_OF, 2029-11-01 02:00 UTC: 04:00 on
1 November in Helsinki but still 22:00 on 31 October in New York, so the two locations' views
stop on different days. Helsinki's Sunday is open around the clock, and Sunday 28 October 2029 is
the day Helsinki leaves summer time: 25 hours long.
"""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django_scopes import scope, scopes_disabled

from accounts.models import Role
from analytics.figures import (
    LiveWindow,
    live_location_days,
    live_offering_months,
    live_resource_days,
)
from analytics.models import LocationDay, OfferingMonth, ReportView, ResourceDay, ViewRefresh
from analytics.selectors import report_for
from analytics.services import table_rebuild
from bookings.models import BookingStatus, Closure, PaymentStatus, ServiceKind
from config.row_security import platform_wide
from tests.factories import (
    BookingFactory,
    CarFactory,
    CustomerFactory,
    LocationFactory,
    MembershipFactory,
    OpeningHoursFactory,
    OrganizationFactory,
    ResourceFactory,
    ServiceFactory,
    open_every_day,
)
from tests.scenarios import HELSINKI, Tenant

AS_OF = datetime(2029, 11, 1, 2, tzinfo=UTC)
HELSINKI_CUTOFF = date(2029, 11, 1)  # AS_OF's local date in Helsinki...
NEW_YORK_CUTOFF = date(2029, 10, 31)  # ...and in New York

COMPLETED = BookingStatus.COMPLETED
CONFIRMED = BookingStatus.CONFIRMED
CANCELLED = BookingStatus.CANCELLED
NO_SHOW = BookingStatus.NO_SHOW
PAID = PaymentStatus.PAID
UNPAID = PaymentStatus.UNPAID
REFUNDED = PaymentStatus.REFUNDED
DEPOSIT = PaymentStatus.DEPOSIT_PAID


def at(zone: ZoneInfo):
    """at(HELSINKI)("10-26 23:30"): that wall-clock time of 2029 in that zone."""
    return lambda text: datetime.strptime(f"2029-{text}", "%Y-%m-%d %H:%M").replace(tzinfo=zone)


hel = at(HELSINKI)


def day(text: str) -> date:
    return datetime.strptime(f"2029-{text}", "%Y-%m-%d").date()


class Rentals:
    """Alpha: washes and a car in Helsinki, washes in New York; Bravo: washes in Helsinki.

    Helsinki opens 09-17 Monday to Saturday and around the clock on Sundays; New York 08-20
    every day. Alpha closes everywhere 12-14 (local) on Tuesday 30 October, and Helsinki all day
    on Wednesday 31 October. Bravo closes all day on Friday 26 October, which must not touch
    Alpha's opening hours.
    """

    def __init__(self) -> None:
        self.organization = OrganizationFactory(name="Alpha", slug="alpha")
        self.hel = LocationFactory(
            organization=self.organization, name="Helsinki", time_zone="Europe/Helsinki"
        )
        self.nyc = LocationFactory(
            organization=self.organization,
            name="New York",
            time_zone="America/New_York",
            city="New York",
            country="US",
        )
        for weekday in range(6):
            OpeningHoursFactory(location=self.hel, weekday=weekday, opens_at=time(9))
        OpeningHoursFactory(location=self.hel, weekday=6, opens_at=time(0), closes_at=time(0))
        open_every_day(self.nyc, opens_at=time(8), closes_at=time(20))
        with scopes_disabled():
            Closure.objects.create(
                organization=self.organization,
                location=None,
                first_day=day("10-30"),
                last_day=day("10-30"),
                starts_at=time(12),
                ends_at=time(14),
                reason="Staff meeting",
            )
            Closure.objects.create(
                organization=self.organization,
                location=self.hel,
                first_day=day("10-31"),
                last_day=day("10-31"),
                reason="Inventory",
            )

        self.bay1 = ResourceFactory(location=self.hel, name="Bay 1")
        self.bay2 = ResourceFactory(location=self.hel, name="Bay 2")
        self.car = CarFactory(resource__location=self.hel, resource__name="Volvo").resource
        self.ny_bay = ResourceFactory(location=self.nyc, name="NY Bay")
        self.wash = ServiceFactory(
            organization=self.organization,
            name="Wash",
            resources=[self.bay1, self.bay2, self.ny_bay],
        )
        self.rental = ServiceFactory(
            organization=self.organization,
            name="Rental",
            kind=ServiceKind.RENTAL,
            duration_minutes=0,
            resources=[self.car],
        )
        self.ann = CustomerFactory(organization=self.organization, full_name="Ann")
        self.ben = CustomerFactory(organization=self.organization, full_name="Ben")
        self.cat = CustomerFactory(organization=self.organization, full_name="Cat")

        b = self.book
        bay1, bay2, car, ny_bay = self.bay1, self.bay2, self.car, self.ny_bay
        ann, ben, cat = self.ann, self.ben, self.cat
        # resource, customer, start and end (local), status, payment, price, made at (local)
        self.bookings = [
            # Helsinki, Friday 26 October: h1-h6, every outcome, and Ann twice; h4 was
            # cancelled after a deposit (6.00) that the business kept.
            b(bay1, ann, "10-26 10:00", "10-26 11:00", COMPLETED, PAID, "30.00", "10-20 10:00"),
            b(bay2, ben, "10-26 10:00", "10-26 11:00", COMPLETED, REFUNDED, "30.00", "10-25 12:00"),
            b(bay1, ann, "10-26 12:00", "10-26 13:00", COMPLETED, UNPAID, "30.00", "10-25 12:00"),
            b(bay1, cat, "10-26 14:00", "10-26 15:00", CANCELLED, DEPOSIT, "30.00", "10-25 12:00"),
            b(bay2, cat, "10-26 15:00", "10-26 16:00", NO_SHOW, UNPAID, "30.00", "10-26 08:00"),
            b(bay1, ben, "10-26 16:00", "10-26 17:00", COMPLETED, PAID, "45.00", "10-26 08:00"),
            # h7: a three-day rental over the 25-hour Sunday.
            b(car, cat, "10-27 09:00", "10-29 17:00", COMPLETED, PAID, "240.00", "10-20 10:00"),
            # h8: 23:30-00:30 local is 21:30-22:30 UTC: one UTC date, two local days.
            b(bay2, ann, "10-28 23:30", "10-29 00:30", COMPLETED, PAID, "30.00", "10-28 10:00"),
            # h9: ends exactly at midnight, so on the Sunday only.
            b(bay1, ben, "10-28 23:00", "10-29 00:00", CONFIRMED, UNPAID, "30.00", "10-28 10:00"),
            # h10, h11: Tuesday 30 October, closed 12-14; half an hour of each is in open hours.
            # h10 was completed on its deposit (6.00) alone.
            b(bay1, cat, "10-30 16:30", "10-30 17:30", COMPLETED, DEPOSIT, "30.00", "10-29 09:00"),
            b(bay2, ann, "10-30 13:30", "10-30 14:30", COMPLETED, PAID, "30.00", "10-29 09:00"),
            # h12: on AS_OF's local day, booked the evening before.
            b(bay1, ben, "11-01 10:00", "11-01 11:00", CONFIRMED, UNPAID, "30.00", "10-31 20:00"),
            # New York. n0: 22:00 on 30 September is 02:00 UTC on 1 October.
            b(ny_bay, ben, "09-30 22:00", "09-30 23:00", COMPLETED, PAID, "50.00", "09-30 09:00"),
            # n1: 23:30-00:30 again, as in h8.
            b(ny_bay, ann, "10-29 23:30", "10-30 00:30", COMPLETED, PAID, "50.00", "10-29 09:00"),
            # n2: made at 20:00 on the 29th in New York, already the 30th in UTC.
            b(ny_bay, ben, "10-30 13:30", "10-30 15:00", COMPLETED, PAID, "50.00", "10-29 20:00"),
            # n3: on AS_OF's local day in New York.
            b(ny_bay, cat, "10-31 10:00", "10-31 11:00", CONFIRMED, UNPAID, "50.00", "10-25 09:00"),
        ]

        # Bravo, the other tenant, closed all day on the 26th yet with a booking that day.
        self.bravo = Tenant("Bravo")
        open_every_day(self.bravo.location)
        self.bravo_bay = ResourceFactory(location=self.bravo.location, name="Bravo bay")
        self.bravo_wash = ServiceFactory(
            organization=self.bravo.organization, name="Wash", resources=[self.bravo_bay]
        )
        with scopes_disabled():
            Closure.objects.create(
                organization=self.bravo.organization,
                location=None,
                first_day=day("10-26"),
                last_day=day("10-26"),
                reason="Bravo's holiday",
            )
        self.b1 = BookingFactory(
            past=True,
            service=self.bravo_wash,
            resource=self.bravo_bay,
            customer=self.bravo.customer,
            starts_at=hel("10-26 10:00"),
            total_price=Decimal("99.00"),
            created_at=hel("10-26 08:00"),
        )
        self.bookings.append(self.b1)

    def book(self, resource, customer, starts, ends, status, payment, price, made):
        """One booking of the table above, its times read in the resource's location's zone."""
        local = at(resource.location.time_zone)
        return BookingFactory(
            past=True,
            service=self.rental if resource == self.car else self.wash,
            resource=resource,
            customer=customer,
            starts_at=local(starts),
            ends_at=local(ends),
            status=status,
            payment_status=payment,
            total_price=Decimal(price),
            created_at=local(made),
        )


@pytest.fixture
def rentals(db) -> Rentals:
    return Rentals()


@pytest.fixture
def refreshed(rentals) -> Rentals:
    """The scenario with every view refreshed at AS_OF (the app's clock)."""
    with time_machine.travel(AS_OF, tick=False):
        for view in ReportView:
            assert table_rebuild(view=view) is not None
    return rentals


FIGURES = (
    "created",
    "taking_place",
    "completed",
    "cancelled",
    "no_shows",
    "paid_bookings",
    "revenue",
    "average_booking_value",
    "unique_customers",
    "customer_ids",
)


def figures(
    *,
    created: int = 0,
    taking_place: int = 0,
    completed: int = 0,
    cancelled: int = 0,
    no_shows: int = 0,
    paid_bookings: int = 0,
    revenue: str = "0.00",
    average: str | None = None,
    unique_customers: int = 0,
    customers: tuple = (),
) -> dict:
    return {
        "created": created,
        "taking_place": taking_place,
        "completed": completed,
        "cancelled": cancelled,
        "no_shows": no_shows,
        "paid_bookings": paid_bookings,
        "revenue": Decimal(revenue),
        "average_booking_value": None if average is None else Decimal(average),
        "unique_customers": unique_customers,
        "customer_ids": sorted(customer.pk for customer in customers),
    }


def location_days(location) -> dict[date, dict]:
    """The view's rows of one location, read in its organization's scope."""
    with scope(organization=location.organization):
        return {
            row.day: {name: getattr(row, name) for name in FIGURES}
            | {"customer_ids": sorted(row.customer_ids)}
            for row in LocationDay.objects.filter(location=location)
        }


def resource_days(location) -> dict[tuple[str, date], tuple[int, int]]:
    """(resource name, day): (open minutes, booked minutes) of one location's resources."""
    with scope(organization=location.organization):
        names = dict(location.resources.values_list("pk", "name"))
        return {
            (names[row.resource_id], row.day): (row.open_minutes, row.booked_minutes)
            for row in ResourceDay.objects.filter(location=location)
        }


def offering_months(location) -> dict[tuple[str, str, date], tuple[int, Decimal]]:
    """(service, resource, month): (bookings, revenue) of one location."""
    with scope(organization=location.organization):
        return {
            (row.service.name, row.resource.name, row.month): (row.bookings, row.revenue)
            for row in OfferingMonth.objects.filter(location=location).select_related(
                "service", "resource"
            )
        }


def test_location_days_count_each_booking_on_its_local_days(refreshed):
    s = refreshed

    assert location_days(s.hel) == {
        # h1 and the rental were made a week ahead; made-only days have rows too.
        day("10-20"): figures(created=2),
        day("10-25"): figures(created=3),
        # h1, h2, h3, h6 take place (not h4, cancelled, nor h5, a no-show). Revenue is the
        # money kept: h1 (30), h6 (45) and the cancelled h4's deposit (6); h2 was paid and
        # refunded, h3 is unpaid. Ann's two bookings make one customer.
        day("10-26"): figures(
            created=2,
            taking_place=4,
            completed=4,
            cancelled=1,
            no_shows=1,
            paid_bookings=3,
            revenue="81.00",
            average="27.00",
            unique_customers=2,
            customers=(s.ann, s.ben),
        ),
        # The rental starts: its whole price counts on its first day.
        day("10-27"): figures(
            taking_place=1,
            completed=1,
            paid_bookings=1,
            revenue="240.00",
            average="240.00",
            unique_customers=1,
            customers=(s.cat,),
        ),
        # The rental, h8 (23:30-00:30) and h9 (23:00-00:00) all take place on the Sunday.
        day("10-28"): figures(
            created=2,
            taking_place=3,
            completed=1,
            paid_bookings=1,
            revenue="30.00",
            average="30.00",
            unique_customers=3,
            customers=(s.ann, s.ben, s.cat),
        ),
        # The rental's last day and h8's last half hour; h9 ended at midnight.
        day("10-29"): figures(
            created=2, taking_place=2, unique_customers=2, customers=(s.ann, s.cat)
        ),
        # h11 paid in full (30), h10 its deposit only (6).
        day("10-30"): figures(
            taking_place=2,
            completed=2,
            paid_bookings=2,
            revenue="36.00",
            average="18.00",
            unique_customers=2,
            customers=(s.ann, s.cat),
        ),
        day("10-31"): figures(created=1),
        # 1 November, AS_OF's local day, is not in the view.
    }
    assert location_days(s.nyc) == {
        day("09-30"): figures(
            created=1,
            taking_place=1,
            completed=1,
            paid_bookings=1,
            revenue="50.00",
            average="50.00",
            unique_customers=1,
            customers=(s.ben,),
        ),
        day("10-25"): figures(created=1),
        # n2 was made at 20:00 local, the 30th in UTC: it counts as made on the 29th.
        day("10-29"): figures(
            created=2,
            taking_place=1,
            completed=1,
            paid_bookings=1,
            revenue="50.00",
            average="50.00",
            unique_customers=1,
            customers=(s.ann,),
        ),
        day("10-30"): figures(
            taking_place=2,
            completed=1,
            paid_bookings=1,
            revenue="50.00",
            average="50.00",
            unique_customers=2,
            customers=(s.ann, s.ben),
        ),
        # 31 October, AS_OF's local day in New York, is not in the view.
    }


def test_resource_days_are_open_minutes_less_closures_and_kept_bookings_inside_them(refreshed):
    s = refreshed
    # Open: Friday and Saturday 09-17; the Sunday 00-24 with the extra hour of the DST change;
    # Monday 09-17; Tuesday 09-17 less the 12-14 closure; Wednesday closed all day.
    hel_open = {
        "10-26": 480,
        "10-27": 480,
        "10-28": 1500,
        "10-29": 480,
        "10-30": 360,
        "10-31": 0,
    }
    booked = {
        # h1, h3, h6 (not the cancelled h4); h9's Sunday hour; the half hour of h10 before 17.
        "Bay 1": {"10-26": 180, "10-28": 60, "10-30": 30},
        # h2 (not the no-show h5); h8's 23:30-24:00 (its 00:00-00:30 is before opening);
        # the half hour of h11 after the 12-14 closure.
        "Bay 2": {"10-26": 60, "10-28": 30, "10-30": 30},
        # The rental fills its three days' open hours exactly, the long Sunday included.
        "Volvo": {"10-27": 480, "10-28": 1500, "10-29": 480},
    }

    # Every resource, every day from the first booking's day (26th) to the day before AS_OF's.
    assert resource_days(s.hel) == {
        (name, day(d)): (open_minutes, booked[name].get(d, 0))
        for name in ("Bay 1", "Bay 2", "Volvo")
        for d, open_minutes in hel_open.items()
    }

    ny = resource_days(s.nyc)
    first, last = day("09-30"), NEW_YORK_CUTOFF - timedelta(days=1)
    assert sorted(ny) == [("NY Bay", first + timedelta(n)) for n in range((last - first).days + 1)]
    # 08-20 every day; the organization's 12-14 closure on the 30th, in New York's wall clock.
    assert {d: o for (_, d), (o, _) in ny.items() if o != 720} == {day("10-30"): 600}
    # n0 (22-23) and n1 (23:30-00:30) are outside the open hours; n2 13:30-15:00 is open
    # only from 14:00.
    assert {d: b for (_, d), (_, b) in ny.items() if b} == {day("10-30"): 60}


def test_offering_months_count_kept_bookings_and_money_kept_by_local_month(refreshed):
    s = refreshed

    assert offering_months(s.hel) == {
        # h1, h3, h6, h9, h10 (not the cancelled h4); money kept: h1 30 + h6 45, and the
        # deposits of h10 (6) and of the cancelled h4 (6).
        ("Wash", "Bay 1", date(2029, 10, 1)): (5, Decimal("87.00")),
        # h2 (refunded), h8, h11 (not the no-show h5); kept: h8 + h11.
        ("Wash", "Bay 2", date(2029, 10, 1)): (3, Decimal("60.00")),
        ("Rental", "Volvo", date(2029, 10, 1)): (1, Decimal("240.00")),
        # h12 on 1 November is after the cutoff: no November row.
    }
    assert offering_months(s.nyc) == {
        # n0 started on 30 September local time (1 October in UTC).
        ("Wash", "NY Bay", date(2029, 9, 1)): (1, Decimal("50.00")),
        # n1 and n2; n3 on the 31st is the cutoff day, left to the live slice.
        ("Wash", "NY Bay", date(2029, 10, 1)): (2, Decimal("100.00")),
    }


def test_refresh_records_the_app_clock_as_as_of(refreshed):
    assert {r.view: r.as_of for r in ViewRefresh.objects.all()} == {
        view.value: AS_OF for view in ReportView
    }


def test_another_organizations_bookings_never_reach_the_first_ones_rows(refreshed):
    s = refreshed
    bravo = s.bravo
    alpha_customers = {s.ann.pk, s.ben.pk, s.cat.pk}

    with scope(organization=s.organization):
        assert set(LocationDay.objects.values_list("location_id", flat=True)) == {
            s.hel.pk,
            s.nyc.pk,
        }
        assert set(ResourceDay.objects.values_list("resource_id", flat=True)) == {
            s.bay1.pk,
            s.bay2.pk,
            s.car.pk,
            s.ny_bay.pk,
        }
        assert set(OfferingMonth.objects.values_list("service_id", flat=True)) == {
            s.wash.pk,
            s.rental.pk,
        }
        for row in LocationDay.objects.all():
            assert set(row.customer_ids) <= alpha_customers
        # Bravo's all-day closure on the 26th did not close Alpha.
        assert ResourceDay.objects.get(resource=s.bay1, day=day("10-26")).open_minutes == 480
        assert ResourceDay.objects.get(resource=s.ny_bay, day=day("10-26")).open_minutes == 720

    # Bravo's rows exist, with Bravo's figures only, in Bravo's scope.
    assert location_days(bravo.location) == {
        day("10-26"): figures(
            created=1,
            taking_place=1,
            completed=1,
            paid_bookings=1,
            revenue="99.00",
            average="99.00",
            unique_customers=1,
            customers=(bravo.customer,),
        ),
    }
    assert resource_days(bravo.location) == {
        ("Bravo bay", day(f"10-{d}")): (0 if d == 26 else 480, 0) for d in range(26, 32)
    }
    assert offering_months(bravo.location) == {
        ("Wash", "Bravo bay", date(2029, 10, 1)): (1, Decimal("99.00"))
    }


def test_views_hold_no_row_for_the_as_of_local_day_or_later_the_live_slice_does(refreshed):
    s = refreshed

    with scope(organization=s.organization):
        for view in (LocationDay, ResourceDay):
            assert not view.objects.filter(location=s.hel, day__gte=HELSINKI_CUTOFF).exists()
            assert not view.objects.filter(location=s.nyc, day__gte=NEW_YORK_CUTOFF).exists()
        assert not OfferingMonth.objects.filter(month__gte=date(2029, 11, 1)).exists()

        today = LiveWindow(locations=[s.hel, s.nyc], as_of=AS_OF, now=AS_OF)
        live_days = {(r["location_id"], r["day"]): r for r in live_location_days(today)}
        live_usage = {
            (r["resource_id"], r["day"]): (r["open_minutes"], r["booked_minutes"])
            for r in live_resource_days(today)
        }
        live_months = {
            (r["location_id"], r["resource_id"], r["month"]): (r["bookings"], r["revenue"])
            for r in live_offering_months(today)
        }

    # Each location's today: h12 in Helsinki (made yesterday), n3 in New York.
    assert sorted(live_days) == [(s.hel.pk, HELSINKI_CUTOFF), (s.nyc.pk, NEW_YORK_CUTOFF)]
    hel_today = live_days[s.hel.pk, HELSINKI_CUTOFF]
    assert (hel_today["created"], hel_today["taking_place"], hel_today["customer_ids"]) == (
        0,
        1,
        [s.ben.pk],
    )
    ny_today = live_days[s.nyc.pk, NEW_YORK_CUTOFF]
    assert (ny_today["created"], ny_today["taking_place"], ny_today["customer_ids"]) == (
        0,
        1,
        [s.cat.pk],
    )
    # Thursday 09-17 in Helsinki; the 31st in New York, 08-20, n3 10-11.
    assert live_usage == {
        (s.bay1.pk, HELSINKI_CUTOFF): (480, 60),
        (s.bay2.pk, HELSINKI_CUTOFF): (480, 0),
        (s.car.pk, HELSINKI_CUTOFF): (480, 0),
        (s.ny_bay.pk, NEW_YORK_CUTOFF): (720, 60),
    }
    # The live slice holds the rest of October in New York and November in Helsinki.
    assert live_months == {
        (s.hel.pk, s.bay1.pk, date(2029, 11, 1)): (1, Decimal("0")),
        (s.nyc.pk, s.ny_bay.pk, date(2029, 10, 1)): (1, Decimal("0")),
    }


def _view_rows(view: str) -> list[dict]:
    with platform_wide("tests: every organization's rows"), connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {view}")
        columns = [column.name for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def _sorted(rows: list[dict], *key: str) -> list[dict]:
    return sorted(rows, key=lambda row: tuple(row[k] for k in key))


def test_live_slice_over_the_views_days_gives_exactly_the_views_rows(refreshed):
    """The live slice fills the templates of analytics/figures.py, the views were frozen from
    them in a migration: on the same days the two must give the same rows, column for column."""
    s = refreshed
    locations = [s.hel, s.nyc, s.bravo.location, s.bravo.other_location]
    # From long before any booking to each location's last day in the views (AS_OF's local day
    # less one: the 31st in Helsinki, the 30th in New York).
    since, until = datetime(2029, 9, 1, tzinfo=UTC), AS_OF - timedelta(days=1)

    with scopes_disabled():
        everything = LiveWindow(locations=locations, as_of=since, now=until)
        live_days = live_location_days(everything)
        live_months = live_offering_months(everything)
        # The views' calendar starts on each location's first booking's day.
        live_usage = []
        for location in (s.hel, s.nyc, s.bravo.location):
            first = min(b.starts_at for b in s.bookings if b.location_id == location.pk)
            first_day = first.astimezone(location.time_zone).date()
            starts = datetime.combine(first_day, time(0), tzinfo=location.time_zone)
            live_usage += live_resource_days(LiveWindow([location], as_of=starts, now=until))

    # Not vacuous: each holds every location with bookings.
    assert {row["location_id"] for row in live_days} == {s.hel.pk, s.nyc.pk, s.bravo.location.pk}
    assert _sorted(live_days, "location_id", "day") == _sorted(
        _view_rows(ReportView.LOCATION_DAY), "location_id", "day"
    )
    assert _sorted(live_usage, "resource_id", "day") == _sorted(
        _view_rows(ReportView.RESOURCE_DAY), "resource_id", "day"
    )
    key = ("location_id", "service_id", "resource_id", "month")
    assert _sorted(live_months, *key) == _sorted(_view_rows(ReportView.OFFERING_MONTH), *key)


# The views' calendar starts on each location's first booking's local day; so must the live
# slice's, or a day's utilization would change when a refresh moves it into the views.
def test_live_slice_has_no_resource_day_before_the_locations_first_booking(refreshed):
    s = refreshed
    # given Helsinki's first booking on the 26th, and a live window from the 20th
    window = LiveWindow([s.hel], as_of=hel("10-20 00:00"), now=hel("10-27 12:00"))

    with scope(organization=s.organization):
        live_days = {row["day"] for row in live_resource_days(window)}
        view_days = set(
            ResourceDay.objects.filter(location=s.hel, day__lte=day("10-27")).values_list(
                "day", flat=True
            )
        )

    # then both start on the 26th (the live slice starts on the 20th, with 480 open minutes
    # a day for every resource)
    assert min(view_days) == day("10-26")
    assert live_days == view_days


@pytest.mark.parametrize(
    "refreshed_at",
    [
        # Before every booking: all from the live slice, including the days before each
        # location's first booking.
        datetime(2029, 9, 1, tzinfo=UTC),
        datetime(2029, 10, 28, 0, 30, tzinfo=UTC),  # Helsinki's DST night; New York's 27th
        AS_OF,
    ],
)
def test_the_report_is_the_same_whenever_the_views_were_refreshed(rentals, refreshed_at):
    """report_for takes each day from the views or from the live slice, never both, never
    neither: where the split falls must not change a figure."""
    s = rentals
    owner = MembershipFactory(organization=s.organization, role=Role.OWNER).user

    def report():
        with scope(organization=s.organization):
            return report_for(
                user=owner,
                organization=s.organization,
                locations=[s.hel, s.nyc],
                first_day=day("09-25"),
                last_day=day("11-01"),
                now=AS_OF,
            )

    with time_machine.travel(AS_OF, tick=False):
        for view in ReportView:
            table_rebuild(view=view)
    expected = report()
    with time_machine.travel(refreshed_at, tick=False):
        for view in ReportView:
            table_rebuild(view=view)
    actual = report()

    assert actual.days == expected.days
    assert actual.totals == expected.totals
    assert actual.top_services == expected.top_services
    assert actual.top_cars == expected.top_cars
    assert actual.usage == expected.usage
    # Taking place, by day: Helsinki 4 + 1 + 3 + 2 + 2 + 1 (1 November), New York 1 + 1 + 2
    # + 1 (31 October); money kept: h1 h4 h6 h7 h8 h10 h11, n0 n1 n2.
    totals = actual.totals
    assert (totals.taking_place, totals.paid_bookings, totals.revenue) == (
        13 + 5,
        7 + 3,
        Decimal("387.00") + Decimal("150.00"),
    )

"""What the dashboard and the API read: the views for the past, the live slice for the rest.

accounts.roles decides who sees what: owners every location's figures, managers their locations',
and a staff member only today's schedule of their own bookings. Nothing here reads the bookings
table except the live slice (analytics/figures.py) and today's schedule, both indexed ranges
around today (docs/analytics.md).
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet

from accounts.models import Location, Organization
from accounts.roles import permitted
from analytics.figures import (
    LiveWindow,
    live_location_days,
    live_offering_months,
    live_resource_days,
)
from analytics.models import LocationDay, OfferingMonth, ReportView, ResourceDay, ViewRefresh
from bookings.models import Booking, BookingStatus, Service
from bookings.selectors import bookings_overlapping
from fleet.models import Car, Resource

VIEW_FIGURES = "analytics.view_locationday"
VIEW_USAGE = "analytics.view_resourceday"
VIEW_OFFERINGS = "analytics.view_offeringmonth"
VIEW_SCHEDULE = "bookings.view_booking"
TOP = 10
SCHEDULE_LIMIT = 200
MAX_REPORT_DAYS = 366
DEFAULT_REPORT_DAYS = 30


def organization_today(organization: Organization, now: datetime) -> date:
    """The latest local date at any of the organization's locations: the last day a report may
    show, so no location loses its own today to a zone further west."""
    zones = {organization.time_zone} | {
        location.time_zone for location in Location.objects.filter(organization=organization)
    }
    return max(now.astimezone(zone).date() for zone in zones)


def check_report_period(first_day: date, last_day: date, today: date) -> None:
    """The days a report may cover: in order, none after today, at most a year of them."""
    if last_day < first_day:
        raise ValidationError({"last_day": "Must not be before the first day."})
    if last_day > today:
        raise ValidationError({"last_day": f"Must not be after today ({today.isoformat()})."})
    if (last_day - first_day).days >= MAX_REPORT_DAYS:
        raise ValidationError({"first_day": f"A report covers at most {MAX_REPORT_DAYS} days."})


def report_locations(user, organization: Organization) -> QuerySet[Location]:
    """The locations whose figures the user may see (none for a staff member)."""
    return permitted(user, VIEW_FIGURES, Location.objects.filter(organization=organization))


def schedule_locations(user, organization: Organization) -> QuerySet[Location]:
    """The locations whose schedule the user may see (narrowed to own bookings for staff)."""
    return permitted(
        user, "accounts.view_location", Location.objects.filter(organization=organization)
    )


COUNTS = ("created", "taking_place", "completed", "cancelled", "no_shows", "paid_bookings")


@dataclass
class Figures:
    """One day's figures, or a range's, summed from view rows and live rows alike."""

    day: date | None = None
    created: int = 0
    taking_place: int = 0
    completed: int = 0
    cancelled: int = 0
    no_shows: int = 0
    paid_bookings: int = 0
    revenue: Decimal = Decimal("0.00")
    customer_ids: set[int] = field(default_factory=set)

    def add(self, row: Mapping[str, Any]) -> None:
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + row[name])
        self.revenue += row["revenue"]
        self.customer_ids.update(row["customer_ids"])

    @property
    def average_booking_value(self) -> Decimal | None:
        """Revenue per booking that kept money (a deposit counts; a full refund does not)."""
        if not self.paid_bookings:
            return None
        return (self.revenue / self.paid_bookings).quantize(Decimal("0.01"))

    @property
    def unique_customers(self) -> int:
        """Customers counted once however many bookings they had in the day or range."""
        return len(self.customer_ids)


@dataclass
class Usage:
    """A resource's booked minutes within its location's open minutes over the range."""

    resource: Resource
    open_minutes: int = 0
    booked_minutes: int = 0

    @property
    def utilization(self) -> Decimal | None:
        """Percent of the open time that was booked; None when the location never opened."""
        if not self.open_minutes:
            return None
        return (Decimal(100) * self.booked_minutes / self.open_minutes).quantize(Decimal("0.1"))


@dataclass
class Offering:
    """A service's or a car's bookings and revenue over the months of the range."""

    name: str
    bookings: int = 0
    revenue: Decimal = Decimal("0.00")


@dataclass
class Report:
    organization: Organization
    first_day: date
    last_day: date
    locations: list[Location]
    days: list[Figures]
    totals: Figures
    usage: list[Usage]
    top_services: list[Offering]
    top_cars: list[Offering]
    refreshes: list[ViewRefresh]

    @property
    def as_of(self) -> datetime | None:
        """How old the oldest view is: earlier days may have changed since (today is live)."""
        return min((refresh.as_of for refresh in self.refreshes), default=None)

    @property
    def first_month(self) -> date:
        """Top services and cars count whole months: their view is kept per month."""
        return self.first_day.replace(day=1)

    @property
    def last_month(self) -> date:
        return self.last_day.replace(day=1)


def report_for(
    *,
    user,
    organization: Organization,
    locations: Iterable[Location],
    first_day: date,
    last_day: date,
    now: datetime,
) -> Report:
    """The figures of the given locations (already narrowed by report_locations) for the days.

    Each view is read for the days before its last refresh and the live slice for the days after,
    so each day comes from exactly one of them.
    """
    with _one_snapshot():
        return _report(user, organization, list(locations), first_day, last_day, now)


@contextmanager
def _one_snapshot() -> Iterator[None]:
    """Read the refresh records and the views as of one moment: a refresh committing between
    two reads would otherwise move days from the live slice into a view read after it."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost:  # must be the transaction's first statement (tests already run in one)
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


def _report(
    user,
    organization: Organization,
    locations: list[Location],
    first_day: date,
    last_day: date,
    now: datetime,
) -> Report:
    refreshes = {refresh.view: refresh for refresh in ViewRefresh.objects.all()}

    days = {
        first_day + timedelta(n): Figures(day=first_day + timedelta(n))
        for n in _span(first_day, last_day)
    }
    totals = Figures()
    read = _Reader(user, locations, refreshes, last_day, now)
    for row in read(ReportView.LOCATION_DAY, first_day):
        days[row["day"]].add(row)
        totals.add(row)

    usage: dict[int, Usage] = {}
    for row in read(ReportView.RESOURCE_DAY, first_day):
        entry = usage.setdefault(row["resource_id"], Usage(resource=None))
        entry.open_minutes += row["open_minutes"]
        entry.booked_minutes += row["booked_minutes"]
    resources = Resource.objects.select_related("location").in_bulk(usage)
    for resource_id, entry in usage.items():
        entry.resource = resources.get(resource_id)
    # A resource deleted since the refresh leaves rows behind until the next one.
    usage = {pk: entry for pk, entry in usage.items() if entry.resource is not None}

    services: dict[int, Offering] = defaultdict(lambda: Offering(name=""))
    cars: dict[int, Offering] = defaultdict(lambda: Offering(name=""))
    for row in read(ReportView.OFFERING_MONTH, first_day.replace(day=1)):
        for offerings, key in ((services, row["service_id"]), (cars, row["resource_id"])):
            offerings[key].bookings += row["bookings"]
            offerings[key].revenue += row["revenue"]
    for service in Service.objects.filter(pk__in=services):
        services[service.pk].name = service.name
    car_names = {car.resource_id: str(car) for car in Car.objects.filter(resource_id__in=cars)}

    return Report(
        organization=organization,
        first_day=first_day,
        last_day=last_day,
        locations=locations,
        days=list(days.values()),
        totals=totals,
        usage=sorted(usage.values(), key=lambda u: (u.resource.location.name, u.resource.name)),
        top_services=_top(services.values()),
        top_cars=_top(
            Offering(name=car_names[resource_id], bookings=o.bookings, revenue=o.revenue)
            for resource_id, o in cars.items()
            if resource_id in car_names
        ),
        refreshes=[refreshes[view] for view in ReportView if view in refreshes],
    )


def _span(first_day: date, last_day: date) -> range:
    return range((last_day - first_day).days + 1)


def _top(offerings: Iterable[Offering]) -> list[Offering]:
    ranked = sorted(offerings, key=lambda o: (-o.revenue, -o.bookings, o.name))
    return [offering for offering in ranked if offering.bookings or offering.revenue][:TOP]


@dataclass(frozen=True)
class _Source:
    """A view, the permission that reads it, and the live slice that continues it."""

    view: type[LocationDay | ResourceDay | OfferingMonth]
    perm: str
    live: Callable[[LiveWindow], list[dict[str, Any]]]
    period: str = "day"  # the view's calendar column


SOURCES = {
    ReportView.LOCATION_DAY: _Source(LocationDay, VIEW_FIGURES, live_location_days),
    ReportView.RESOURCE_DAY: _Source(ResourceDay, VIEW_USAGE, live_resource_days),
    ReportView.OFFERING_MONTH: _Source(
        OfferingMonth, VIEW_OFFERINGS, live_offering_months, period="month"
    ),
}


@dataclass(frozen=True)
class _Reader:
    """Reads a view and its live slice for some locations up to a last day."""

    user: Any
    locations: list[Location]
    refreshes: dict[str, ViewRefresh]
    last_day: date
    now: datetime

    def __call__(self, view: ReportView, first_day: date) -> list[Mapping[str, Any]]:
        """The view's rows for the days before its refresh, then the live rows up to today."""
        if not self.locations:
            return []
        source, period = SOURCES[view], SOURCES[view].period
        refresh = self.refreshes.get(view)
        if refresh is None:  # a view without its record (a flushed database): trust it for nothing
            as_of = datetime.combine(first_day, time(0), UTC)
            window = LiveWindow(self.locations, as_of, max(self.now, as_of))
            return [row for row in source.live(window) if first_day <= row[period] <= self.last_day]
        cutoffs: dict[date, list[int]] = defaultdict(list)
        for location in self.locations:
            cutoffs[refresh.as_of.astimezone(location.time_zone).date()].append(location.pk)
        before_refresh = Q(pk__in=[])
        for cutoff, location_ids in cutoffs.items():
            if period == "month":  # a month row holds its days before the cutoff; live the rest
                before_refresh |= Q(location_id__in=location_ids, month__lte=cutoff.replace(day=1))
            else:
                before_refresh |= Q(location_id__in=location_ids, day__lt=cutoff)
        rows: list[Mapping[str, Any]] = list(
            permitted(self.user, source.perm, source.view.objects.all())
            .filter(before_refresh, **{f"{period}__range": (first_day, self.last_day)})
            .values()
        )
        if self.last_day >= min(cutoffs):
            # A refresh stamped by a clock a little ahead (another host) still leaves today live.
            now = max(self.now, refresh.as_of)
            window = LiveWindow(locations=self.locations, as_of=refresh.as_of, now=now)
            rows += [
                row for row in source.live(window) if first_day <= row[period] <= self.last_day
            ]
        return rows


@dataclass
class Schedule:
    """Today's bookings at some locations, as far as the user may see them, and their counts."""

    bookings: list[Booking]
    total: int
    by_status: dict[str, int]

    @property
    def by_status_label(self) -> dict[str, int]:
        return {BookingStatus(status).label: count for status, count in self.by_status.items()}


def today_schedule(*, user, locations: Iterable[Location], now: datetime) -> Schedule:
    """Bookings taking place on each location's local today, in start order."""
    days = []
    for location in locations:
        day = now.astimezone(location.time_zone).date()
        starts = datetime.combine(day, time(0), tzinfo=location.time_zone)
        ends = datetime.combine(day + timedelta(days=1), time(0), tzinfo=location.time_zone)
        days.append((location.pk, (starts, ends)))
    bookings = permitted(user, VIEW_SCHEDULE, bookings_overlapping(days))
    counts = dict(bookings.order_by().values_list("status").annotate(Count("pk")))
    return Schedule(
        bookings=list(
            bookings.select_related("location", "service", "resource", "customer").order_by(
                "starts_at", "pk"
            )[:SCHEDULE_LIMIT]
        ),
        total=sum(counts.values()),
        by_status={status: counts.get(status, 0) for status in BookingStatus.values},
    )

"""Availability: when a service or a car can be booked, computed in the location's time zone.

Wall-clock rules (opening hours, closures) are turned into UTC instants day by day with the
location's zone, so a daylight-saving day has 23 or 25 hours and its slots are where the clock
on the wall says. A call makes a fixed number of queries whatever the number of days, slots or
resources: resources, hours, closures and occupancies are each read once.
"""

import bisect
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import F, Q, QuerySet, Value
from django.db.models.functions import JSONObject
from django.utils import timezone

from accounts.models import Location
from bookings import availability_cache, reference_cache
from bookings.errors import (
    LocationClosed,
    OffGrid,
    OutsideOpeningHours,
    SlotUnavailable,
    TooFarAhead,
    TooSoon,
)
from bookings.models import (
    Booking,
    BookingPeriod,
    Closure,
    OccupancyPeriod,
    OccupancyRange,
    OpeningHours,
    Service,
    ServiceKind,
)
from bookings.policy import HOLDING_STATUSES
from fleet.models import Car, Resource

Interval = tuple[datetime, datetime]  # [start, end) in UTC


@dataclass(frozen=True)
class Slot:
    """A bookable start time and the resources free for it, best first."""

    starts_at: datetime
    ends_at: datetime
    resource_ids: tuple[int, ...]


def days_between(date_from: date, date_to: date) -> list[date]:
    """The local days from date_from to date_to, both included."""
    return [date_from + timedelta(days=n) for n in range((date_to - date_from).days + 1)]


def _local(day: date, at: time, location: Location) -> datetime:
    return datetime.combine(day, at, tzinfo=location.time_zone).astimezone(UTC)


def _subtract(intervals: list[Interval], cut: Interval) -> list[Interval]:
    result = []
    for start, end in intervals:
        if cut[1] <= start or cut[0] >= end:
            result.append((start, end))
            continue
        if start < cut[0]:
            result.append((start, cut[0]))
        if cut[1] < end:
            result.append((cut[1], end))
    return result


_CLOSURE_COLUMNS = {field.attname: field.attname for field in Closure._meta.concrete_fields}


def _closure(row: dict) -> Closure:
    """A Closure from its JSON row (dates and times arrive as ISO text)."""
    return Closure(
        **{
            name: None if value is None else Closure._meta.get_field(name).to_python(value)
            for name, value in row.items()
        }
    )


class OpeningCalendar:
    """A location's opening hours and closures, read once, answering per local day."""

    def __init__(self, location: Location, date_from: date, date_to: date) -> None:
        self.location = location
        self.hours: dict[int, list[OpeningHours]] = defaultdict(list)
        closures = Closure.objects.filter(
            Q(location=location) | Q(location__isnull=True),
            organization_id=location.organization_id,
            first_day__lte=date_to,
            last_day__gte=date_from,
        )
        # One round trip (a booking reads this in its transaction): the closures come along
        # with each row of hours as an array the subquery computes once.
        closure_rows = None
        for hours in OpeningHours.objects.filter(location=location).annotate(
            closure_rows=ArraySubquery(closures.values(row=JSONObject(**_CLOSURE_COLUMNS)))
        ):
            self.hours[hours.weekday].append(hours)
            closure_rows = hours.closure_rows
        self.closures = (
            list(closures) if closure_rows is None else [_closure(row) for row in closure_rows]
        )

    def hours_intervals(self, day: date) -> list[Interval]:
        """The opening hours of this local day, in UTC, before closures."""
        intervals = []
        for hours in sorted(self.hours[day.weekday()], key=lambda h: h.opens_at):
            closes = (
                _local(day + timedelta(days=1), time(0), self.location)
                if hours.closes_at == time(0)
                else _local(day, hours.closes_at, self.location)
            )
            intervals.append((_local(day, hours.opens_at, self.location), closes))
        return intervals

    def open_intervals(self, day: date) -> list[Interval]:
        """When the location is open on this local day, in UTC, closures taken out."""
        intervals = self.hours_intervals(day)
        for closure in self.closures:
            if not closure.first_day <= day <= closure.last_day:
                continue
            if closure.starts_at is None:
                return []
            cut = (
                _local(day, closure.starts_at, self.location),
                _local(day, closure.ends_at, self.location),
            )
            intervals = _subtract(intervals, cut)
        return intervals

    def is_open_at(self, instant: datetime) -> bool:
        day = instant.astimezone(self.location.time_zone).date()
        # The end of an interval counts as open: a car may be returned at closing time.
        return any(start <= instant <= end for start, end in self.open_intervals(day))

    def refusal(
        self, starts_at: datetime, ends_at: datetime, *, step: timedelta | None = None
    ) -> SlotUnavailable | None:
        """Why the calendar refuses the period [starts_at, ends_at] (a point when they are
        equal), or None when it allows it. With `step` (an appointment's slot granularity) the
        start must also be on the grid that starts at each opening. None for an allowed period
        means whatever refused it is someone else's booking."""
        day = starts_at.astimezone(self.location.time_zone).date()

        def within(intervals: list[Interval]) -> Interval | None:
            # Ends count as open: a car may be returned at closing time.
            return next((i for i in intervals if i[0] <= starts_at and ends_at <= i[1]), None)

        if within(self.hours_intervals(day)) is None:
            return OutsideOpeningHours("This time is outside opening hours.")
        interval = within(self.open_intervals(day))
        if interval is None:
            return LocationClosed("The location is closed at this time.")
        if step and (starts_at - interval[0]) % step:
            return OffGrid(f"Bookings start every {step // timedelta(minutes=1)} minutes.")
        return None


def period_refusal(
    *,
    service: Service,
    location: Location,
    starts_at: datetime,
    ends_at: datetime,
    notice: timedelta,
    now: datetime | None = None,
    opening_hours: bool = True,
) -> SlotUnavailable | None:
    """The engine's rules of time for a period, as the booking step checks them
    (bookings.services.creation.candidates) and as the car search filters by them: the minimum
    notice, the booking window and, with `opening_hours`, pick-up and return within opening
    hours (a rental's). The refusal is the engine's own error, to raise or to show; None when
    the period passes them all."""
    now = now or timezone.now()
    if starts_at < now + notice:
        return TooSoon("This time is too soon to book.")
    if max(starts_at, ends_at) > now + timedelta(days=service.maximum_advance_days):
        return TooFarAhead("This time is too far ahead to book.")
    if opening_hours:
        zone = location.time_zone
        calendar = OpeningCalendar(
            location, starts_at.astimezone(zone).date(), ends_at.astimezone(zone).date()
        )
        for instant in (starts_at, ends_at):
            if isinstance(refused := calendar.refusal(instant, instant), OutsideOpeningHours):
                return OutsideOpeningHours("Pick-up and return must be within opening hours.")
            if refused:
                return refused
    return None


def occupancies_in_window(resource_ids: Iterable[int], window: Interval) -> QuerySet:
    """(resource, start, end) of what overlaps the window.

    Asked as "whose occupancy_range overlaps the window's range of each resource", the question
    the exclusion constraint's GiST index answers bounded on both sides: a B-tree on (resource,
    ends_at) bounds only one, and read every later occupancy of the resource, a cost that grew
    with the booked horizon (docs/indexes.md, "Availability at 1M bookings"). Read through the
    walled view, so the index serves under row security too (bookings.models.periods).
    """
    overlapping = _overlapping("resource_id", ((pk, window) for pk in resource_ids))
    if not overlapping:
        return OccupancyPeriod.objects.none().values_list("resource_id", "starts_at", "ends_at")
    return (
        OccupancyPeriod.objects.alias(span=_span("resource_id"))
        .filter(overlapping)
        .order_by("resource_id", "starts_at")
        .values_list("resource_id", "starts_at", "ends_at")
    )


def bookings_overlapping(windows: Iterable[tuple[int, Interval]]) -> QuerySet:
    """The bookings at each (location id, window) overlapping the window, past and future
    unread. Two statements: the slice's ids through booking_location_period in the walled view,
    then the bookings by primary key. Given the ids as values the planner reads exactly those;
    given a subquery it may drive the read from the table instead, where the row policy keeps
    the period index out of reach (bookings.models.periods)."""
    overlapping = _overlapping("location_id", windows)
    if not overlapping:
        return Booking.objects.none()
    slice_ = BookingPeriod.objects.alias(span=_span("location_id")).filter(overlapping)
    return Booking.objects.filter(pk__in=list(slice_.values_list("pk", flat=True)))


def _span(column: str) -> OccupancyRange:
    return OccupancyRange(F(column), F("starts_at"), F("ends_at"))


def _overlapping(column: str, windows: Iterable[tuple[int, Interval]]) -> Q:
    """`span` overlaps the window of its id, in the encoding of the period indexes."""
    overlapping = Q()
    for pk, (starts_at, ends_at) in windows:
        overlapping |= Q(span__overlap=OccupancyRange(Value(pk), Value(starts_at), Value(ends_at)))
    return overlapping


class OccupiedTimes:
    """Occupied periods per resource, read once, answering "is this resource free then?"."""

    def __init__(self, resource_ids: Iterable[int], window: Interval) -> None:
        self.starts: dict[int, list[datetime]] = defaultdict(list)
        self.ends: dict[int, list[datetime]] = defaultdict(list)
        for resource_id, starts_at, ends_at in occupancies_in_window(resource_ids, window):
            self.starts[resource_id].append(starts_at)
            self.ends[resource_id].append(ends_at)

    def is_free(self, resource_id: int, start: datetime, end: datetime) -> bool:
        # Occupancies of one resource never overlap, so sorted by start they are sorted by end
        # too: only the last one starting before `end` can reach into [start, end).
        index = bisect.bisect_left(self.starts[resource_id], end) - 1
        return index < 0 or self.ends[resource_id][index] <= start

    def periods(self, resource_id: int) -> list[Interval]:
        return list(zip(self.starts[resource_id], self.ends[resource_id], strict=True))


def bookable_resources(
    *, service: Service, location: Location, resource: Resource | None = None
) -> list[Resource]:
    """The active resources at the location that serve the service (or just the chosen one).

    A service loaded by `offered_services` (the pages) carries its active resources already
    and is read no more; any other is asked. The service is never changed here: it may be
    kept for longer than a request.
    """
    prefetched = getattr(service, "_prefetched_objects_cache", {}).get("resources")
    if prefetched is None:
        resources = service.resources.filter(location=location, is_active=True).order_by("pk")
        if resource is not None:
            resources = resources.filter(pk=resource.pk)
        return list(resources)
    return sorted(
        (
            r
            for r in prefetched
            if r.location_id == location.pk
            and r.is_active
            and (resource is None or r.pk == resource.pk)
        ),
        key=lambda r: r.pk,
    )


def _slots_by_day(
    service: Service, location: Location, resource_ids: list[int], days: list[date]
) -> dict[date, list[Slot]]:
    """Every slot of these days, before the notice and advance limits (which move with now)."""
    calendar = OpeningCalendar(location, days[0], days[-1])
    duration = timedelta(minutes=service.duration_minutes)
    step = timedelta(minutes=service.slot_granularity_minutes)
    before = timedelta(minutes=service.buffer_before_minutes)
    after = timedelta(minutes=service.buffer_after_minutes)
    window = (
        _local(days[0], time(0), location) - before - duration,
        _local(days[-1] + timedelta(days=1), time(0), location) + after + duration,
    )
    occupied = OccupiedTimes(resource_ids, window)

    slots: dict[date, list[Slot]] = {}
    for day in days:
        slots[day] = []
        for open_start, open_end in calendar.open_intervals(day):
            start = open_start
            while start + duration <= open_end:
                end = start + duration
                free = tuple(
                    resource_id
                    for resource_id in resource_ids
                    if occupied.is_free(resource_id, start - before, end + after)
                )
                if free:
                    slots[day].append(Slot(start, end, free))
                start += step
    return slots


def service_slots(
    *,
    service: Service,
    location: Location,
    date_from: date,
    date_to: date,
    resource: Resource | None = None,
    now: datetime | None = None,
    use_cache: bool = True,
    notice: timedelta | None = None,
    generations: availability_cache.Generations | None = None,
) -> list[Slot]:
    """Free slots of an appointment service at a location between two local dates (inclusive).

    With `resource`, only that resource (a chosen barber); otherwise any resource serving it.
    `notice` is how soon a slot may start (the service's minimum notice unless the desk books:
    bookings.policy.booking_notice). `generations`: those of these days, when the caller has
    just read them (the API reads them first, to find the service in the reference data).

    From the cache, the serving resources come from the process's reference data of the
    generation read with the days (bookings.reference_cache): one query in all when the days
    are cached. Uncached (use_cache=False), everything is read from the database.
    """
    if service.kind != ServiceKind.APPOINTMENT or not service.is_active or date_to < date_from:
        return []
    now = now or timezone.now()
    days = days_between(date_from, date_to)
    resource_id = resource.pk if resource else None
    if use_cache:
        generations = generations or availability_cache.generations(
            organization_id=location.organization_id, location_id=location.pk, days=days
        )
        reference = reference_cache.reference_of(location.organization_id, generations.reference)
        resource_ids = reference.serving(service.pk, location.pk, resource_id)
    else:
        resource_ids = [
            r.pk for r in bookable_resources(service=service, location=location, resource=resource)
        ]
    if not resource_ids:
        return []

    def compute(missing: list[date]) -> dict[date, list[Slot]]:
        return _slots_by_day(service, location, resource_ids, missing)

    by_day = availability_cache.cached_days(
        namespace=f"slots:{service.pk}:{location.pk}:{resource_id or 'any'}",
        location=location,
        days=days,
        compute=compute,
        use_cache=use_cache,
        known=generations,
    )

    if notice is None:
        notice = timedelta(minutes=service.minimum_notice_minutes)
    earliest = now + notice
    latest = now + timedelta(days=service.maximum_advance_days)
    return [slot for day in days for slot in by_day[day] if earliest <= slot.starts_at <= latest]


def slots_hold_until(
    slots: list[Slot], *, service: Service, location: Location, date_to: date, now: datetime
) -> datetime | None:
    """Until when `service_slots` keeps giving these slots (asked at `now`, to `date_to`) if
    nothing changes in the database: the first leaves as its notice begins, and none joins
    while the whole range is within the advance limit. None: no end; `now` when the range
    reaches past the limit (slots join as time goes on)."""
    range_end = _local(date_to + timedelta(days=1), time(0), location)
    if range_end > now + timedelta(days=service.maximum_advance_days):
        return now
    if not slots:
        return None
    first = min(slot.starts_at for slot in slots)
    return first - timedelta(minutes=service.minimum_notice_minutes)


def nearest_slots(
    *,
    service: Service,
    location: Location,
    around: datetime,
    resource: Resource | None = None,
    count: int = 6,
    days: int = 7,
    notice: timedelta | None = None,
) -> list[Slot]:
    """The free slots closest to `around` (before or after, within `days` local days either
    side), in time order: what to offer when the chosen time was just taken."""
    day = around.astimezone(location.time_zone).date()
    slots = service_slots(
        service=service,
        location=location,
        date_from=day - timedelta(days=days),
        date_to=day + timedelta(days=days),
        resource=resource,
        notice=notice,
    )
    closest = sorted(
        (slot for slot in slots if slot.starts_at != around),
        key=lambda slot: abs(slot.starts_at - around),
    )[:count]
    return sorted(closest, key=lambda slot: slot.starts_at)


def car_free_periods(
    *, car: Car, date_from: date, date_to: date, use_cache: bool = True
) -> list[Interval]:
    """When a car is free between two local dates (inclusive), as merged [start, end) periods."""
    resource = car.resource
    location = resource.location
    days = days_between(date_from, date_to)

    def compute(missing: list[date]) -> dict[date, list[Interval]]:
        window = (
            _local(missing[0], time(0), location),
            _local(missing[-1] + timedelta(days=1), time(0), location),
        )
        occupied = OccupiedTimes([resource.pk], window)
        result = {}
        for day in missing:
            free = [
                (_local(day, time(0), location), _local(day + timedelta(days=1), time(0), location))
            ]
            for period in occupied.periods(resource.pk):
                free = _subtract(free, period)
            result[day] = free
        return result

    if not resource.is_active:
        return []
    by_day = availability_cache.cached_days(
        namespace=f"car:{car.pk}",
        location=location,
        days=days,
        compute=compute,
        use_cache=use_cache,
    )

    merged: list[Interval] = []
    for day in days:
        for start, end in by_day[day]:
            if merged and merged[-1][1] == start:
                merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
    return merged


def bookings_during_closure(closure: Closure) -> list[Booking]:
    """The bookings that hold time while a closure says a location is shut: what staff must
    move or cancel once they close (the closure itself does not touch bookings)."""
    locations = (
        [closure.location]
        if closure.location_id
        else list(Location.objects.filter(organization_id=closure.organization_id))
    )
    overlaps = Q(pk__in=[])
    for location in locations:
        for day in days_between(closure.first_day, closure.last_day):
            opens = _local(day, closure.starts_at or time(0), location)
            closes = (
                _local(day, closure.ends_at, location)
                if closure.ends_at
                else _local(day + timedelta(days=1), time(0), location)
            )
            overlaps |= Q(location=location, starts_at__lt=closes, ends_at__gt=opens)
    return list(
        Booking.objects.filter(overlaps, status__in=HOLDING_STATUSES)
        .select_related("customer", "location")
        .order_by("starts_at")
    )

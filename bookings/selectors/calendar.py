"""The resource calendar: a location's days as columns of resources, and its cars' rentals as a
timeline over days, in the location's wall-clock time.

Every position is computed from aware instants (a block's top is its distance from the day's
first instant over the day's real length), never from naive hours, so a 23- or 25-hour day is
drawn as it is lived: the hour the clocks skip has no row, the hour they repeat has two.

A call makes a fixed number of queries whatever the number of days, resources or bookings:
resources, opening hours, closures, bookings and blocked time are each read once.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Exists, OuterRef

from accounts.models import Location
from accounts.roles import permitted
from bookings.models import Booking, Maintenance
from bookings.policy import HOLDING_STATUSES
from bookings.selectors.availability import Interval, OpeningCalendar, bookings_overlapping
from fleet.models import Resource, ResourceKind

VIEW_BOOKING = "bookings.view_booking"
VIEW_MAINTENANCE = "bookings.view_maintenance"
VIEW_RESOURCE = "fleet.view_resource"

SLOT = timedelta(minutes=30)  # one row of the grid, and one empty cell to book from
# What a day shows when the location is closed and nothing is booked: a working day.
CLOSED_DAY_HOURS = (time(8), time(18))
# Active bookings hold their resource's time (bookings.policy); they are the calendar's blocks.
ACTIVE_STATUSES = HOLDING_STATUSES
KIND_ORDER = {ResourceKind.STAFF: 0, ResourceKind.BAY: 1, ResourceKind.CAR: 2}


# --- What the page draws ------------------------------------------------------------------------


@dataclass(frozen=True)
class BookingBlock:
    """A booking as drawn. `detailed` is False for a booking the user may not view (a staff
    member looking at a colleague's column): then only its time is known, as "busy"."""

    booking_id: int
    starts_at: datetime  # in the location's zone
    ends_at: datetime
    status: str
    status_label: str
    detailed: bool
    code: str = ""
    customer_name: str = ""
    customer_id: int | None = None
    service_name: str = ""
    payment_status: str = ""
    payment_label: str = ""
    resource_name: str = ""
    top: float = 0.0  # percent of the day's window
    height: float = 0.0
    continues_before: bool = False
    continues_after: bool = False

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def minutes(self) -> int:
        """Its length, for the page to choose how much fits in its block."""
        return int((self.ends_at - self.starts_at) / timedelta(minutes=1))


@dataclass(frozen=True)
class TimeBlock:
    """Blocked time or maintenance on one resource; the reason only for those who may read it."""

    kind: str
    kind_label: str
    reason: str
    starts_at: datetime
    ends_at: datetime
    top: float
    height: float


@dataclass(frozen=True)
class Band:
    """Time the whole location is closed: outside its hours, or a closure (with its reason)."""

    starts_at: datetime
    ends_at: datetime
    top: float
    height: float
    reason: str = ""  # empty: outside opening hours

    @property
    def is_closure(self) -> bool:
        return bool(self.reason)


@dataclass(frozen=True)
class Row:
    """One SLOT of the day's grid, labelled with the wall clock and, where needed, its offset."""

    starts_at: datetime  # in the location's zone
    top: float
    is_hour: bool
    ambiguous: bool  # the label alone repeats (the hour a fall-back day lives twice)

    @property
    def label(self) -> str:
        return f"{self.starts_at:%H:%M}"

    @property
    def offset(self) -> str:
        return utc_offset(self.starts_at)


@dataclass(frozen=True)
class Cell:
    """An empty SLOT of one resource: where a new booking can start."""

    starts_at: datetime  # in the location's zone; isoformat() carries the offset
    top: float
    height: float


@dataclass
class Column:
    resource: Resource
    is_own: bool
    bookings: list[BookingBlock] = field(default_factory=list)
    blocks: list[TimeBlock] = field(default_factory=list)
    cells: list[Cell] = field(default_factory=list)

    @property
    def agenda(self) -> list[BookingBlock | TimeBlock]:
        """Bookings and blocked time in start order: the week's list of the day."""
        return sorted([*self.bookings, *self.blocks], key=lambda item: item.starts_at)


@dataclass
class CalendarDay:
    """One local day of a location: its window on the wall clock and a column per resource."""

    location: Location
    day: date
    starts_at: datetime  # the window drawn, in the location's zone
    ends_at: datetime
    day_hours: float  # the local day's real length: 23, 24 or 25
    is_open: bool
    rows: list[Row]
    bands: list[Band]
    columns: list[Column]
    # Cancelled bookings and no-shows the user may view: listed, never drawn as blocks.
    released: list[BookingBlock]

    @property
    def bookings(self) -> list[BookingBlock]:
        return sorted(
            (b for column in self.columns for b in column.bookings), key=lambda b: b.starts_at
        )

    @property
    def has_cars(self) -> bool:
        return any(column.resource.kind == ResourceKind.CAR for column in self.columns)

    @property
    def closures(self) -> list[Band]:
        return [band for band in self.bands if band.is_closure]

    @property
    def time_zone(self) -> str:
        return zone_label(self.location.time_zone, self.starts_at, self.ends_at)


@dataclass(frozen=True)
class WeekRow:
    resource: Resource
    is_own: bool
    cells: list[tuple[CalendarDay, Column]]


@dataclass
class CalendarWeek:
    location: Location
    days: list[CalendarDay]

    @property
    def rows(self) -> list["WeekRow"]:
        """A row per resource, with its column of each day (every day has the same columns)."""
        return [
            WeekRow(
                resource=column.resource,
                is_own=column.is_own,
                cells=[(day, day.columns[index]) for day in self.days],
            )
            for index, column in enumerate(self.days[0].columns)
        ]

    @property
    def has_cars(self) -> bool:
        return self.days[0].has_cars

    @property
    def time_zone(self) -> str:
        return zone_label(self.location.time_zone, self.days[0].starts_at, self.days[-1].ends_at)


@dataclass(frozen=True)
class RentalSpan:
    block: BookingBlock | TimeBlock
    left: float  # percent of the timeline
    width: float


@dataclass(frozen=True)
class TimelineDay:
    day: date
    left: float
    width: float
    is_closed: bool


@dataclass
class CarRow:
    resource: Resource
    spans: list[RentalSpan]
    blocks: list[RentalSpan]  # maintenance and blocked time


@dataclass
class RentalTimeline:
    """A location's cars over days: each rental spans from pick-up to return."""

    location: Location
    day: date  # the day whose pick-ups and returns are listed
    days: list[TimelineDay]
    rows: list[CarRow]
    pickups: list[BookingBlock]
    returns: list[BookingBlock]

    @property
    def time_zone(self) -> str:
        tz = self.location.time_zone
        first = datetime.combine(self.days[0].day, time(0), tzinfo=tz)
        last = datetime.combine(self.days[-1].day, time(23, 59), tzinfo=tz)
        return zone_label(tz, first, last)


# --- Wall-clock arithmetic --------------------------------------------------------------------


def utc_offset(instant: datetime) -> str:
    offset = instant.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def zone_label(tz: ZoneInfo, first: datetime, last: datetime) -> str:
    """ "Europe/Helsinki (UTC+02:00)", or both offsets when the clocks change in between."""
    offsets = list(dict.fromkeys(utc_offset(i.astimezone(tz)) for i in (first, last)))
    if len(offsets) == 1:
        return f"{tz.key} ({offsets[0]})"
    return f"{tz.key} ({' then '.join(offsets)}: the clocks change)"


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _floor_hour(instant: datetime, tz: ZoneInfo) -> datetime:
    local = instant.astimezone(tz)
    return instant - timedelta(
        minutes=local.minute, seconds=local.second, microseconds=local.microsecond
    )


def _ceil_hour(instant: datetime, tz: ZoneInfo) -> datetime:
    floored = _floor_hour(instant, tz)
    return floored if floored == instant else floored + timedelta(hours=1)


def _percent(instant: datetime, window: Interval) -> float:
    start, end = window
    share = (min(max(instant, start), end) - start) / (end - start)
    return round(share * 100, 4)


def _overlaps(a: Interval, b: Interval) -> bool:
    return a[0] < b[1] and b[0] < a[1]


# --- Reading ------------------------------------------------------------------------------------


@dataclass
class _Reads:
    """Everything of a location's period, each read once."""

    resources: list[Resource]
    opening: OpeningCalendar
    bookings: list[Booking]  # annotated with `detailed`
    maintenance: list[Maintenance]  # annotated with `detailed`


def _read(user, location: Location, first: date, last: date) -> _Reads:
    tz = location.time_zone
    window = (local_midnight(first, tz), local_midnight(last + timedelta(days=1), tz))
    resources = list(
        permitted(user, VIEW_RESOURCE, Resource.objects.filter(location=location))
        .select_related("membership", "car")
        .order_by("name", "pk")
    )
    # Every booking's time is read, but its details only where view_booking holds: a staff
    # member's grant covers their own column only (roles.OWN_ROWS_ONLY), yet to take a walk-in
    # they must see when colleagues are busy, so other rows become "busy" blocks without a
    # customer, service or link. The permission is asked in the same query (EXISTS).
    may_view = permitted(user, VIEW_BOOKING, Booking.objects.filter(pk=OuterRef("pk")))
    bookings = list(
        bookings_overlapping([(location.pk, window)])
        .annotate(detailed=Exists(may_view))
        .select_related("customer", "service")
        .order_by("starts_at", "pk")
    )
    may_view_block = permitted(
        user, VIEW_MAINTENANCE, Maintenance.objects.filter(pk=OuterRef("pk"))
    )
    maintenance = list(
        Maintenance.objects.filter(
            resource__location=location, starts_at__lt=window[1], ends_at__gt=window[0]
        )
        .annotate(detailed=Exists(may_view_block))
        .order_by("starts_at", "pk")
    )
    return _Reads(resources, OpeningCalendar(location, first, last), bookings, maintenance)


def _is_own(user, resource: Resource) -> bool:
    return resource.membership is not None and resource.membership.user_id == user.pk


def _ordered_resources(user, reads: _Reads, window: Interval) -> list[tuple[Resource, bool]]:
    """Active resources, and inactive ones only while something of theirs is in the period;
    the user's own time first, then staff, bays, cars."""
    busy = {b.resource_id for b in reads.bookings if b.status in ACTIVE_STATUSES}
    busy |= {m.resource_id for m in reads.maintenance}
    shown = [r for r in reads.resources if r.is_active or r.pk in busy]
    return sorted(
        ((r, _is_own(user, r)) for r in shown),
        key=lambda pair: (not pair[1], KIND_ORDER.get(pair[0].kind, 9), pair[0].name.lower()),
    )


def _block(booking: Booking, tz: ZoneInfo, window: Interval | None = None) -> BookingBlock:
    detailed = bool(getattr(booking, "detailed", False))
    placed = {}
    if window is not None:
        top = _percent(booking.starts_at, window)
        placed = {
            "top": top,
            "height": _percent(booking.ends_at, window) - top,
            "continues_before": booking.starts_at < window[0],
            "continues_after": booking.ends_at > window[1],
        }
    common = {
        "booking_id": booking.pk,
        "starts_at": booking.starts_at.astimezone(tz),
        "ends_at": booking.ends_at.astimezone(tz),
        "status": booking.status,
        "status_label": booking.get_status_display(),
        "detailed": detailed,
        **placed,
    }
    if not detailed:
        return BookingBlock(**common)
    return BookingBlock(
        **common,
        code=booking.code,
        customer_name=booking.customer.full_name,
        customer_id=booking.customer_id,
        service_name=booking.service.name,
        payment_status=booking.payment_status,
        payment_label=booking.get_payment_status_display(),
    )


def _time_block(block: Maintenance, tz: ZoneInfo, window: Interval) -> TimeBlock:
    top = _percent(block.starts_at, window)
    return TimeBlock(
        kind=block.kind,
        kind_label=block.get_kind_display(),
        reason=block.reason if block.detailed else "",
        starts_at=block.starts_at.astimezone(tz),
        ends_at=block.ends_at.astimezone(tz),
        top=top,
        height=_percent(block.ends_at, window) - top,
    )


def _day_window(reads: _Reads, day: date, tz: ZoneInfo) -> tuple[Interval, list[Interval]]:
    """The part of the local day to draw: its opening hours widened to whole hours and to
    whatever is booked or blocked that day; a working day's hours if closed and empty."""
    whole_day = (local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz))
    open_intervals = reads.opening.open_intervals(day)
    spans = list(open_intervals)
    # What starts or ends this day widens the window to that instant; a rental or a block that
    # runs through the whole day does not stretch it to midnight.
    taken = [(b.starts_at, b.ends_at) for b in reads.bookings if b.status in ACTIVE_STATUSES]
    taken += [(m.starts_at, m.ends_at) for m in reads.maintenance]
    for start, end in taken:
        spans += [
            (instant, instant)
            for instant in (start, end)
            if whole_day[0] <= instant <= whole_day[1]
        ]
    # Opening hours as the rules give them (closures not taken out), so a closed day still
    # shows its usual hours with the closure drawn over them.
    for hours in reads.opening.hours[day.weekday()]:
        closes = (
            whole_day[1]
            if hours.closes_at == time(0)
            else datetime.combine(day, hours.closes_at, tzinfo=tz).astimezone(UTC)
        )
        spans.append((datetime.combine(day, hours.opens_at, tzinfo=tz).astimezone(UTC), closes))
    if not spans:
        spans = [
            tuple(datetime.combine(day, t, tzinfo=tz).astimezone(UTC) for t in CLOSED_DAY_HOURS)
        ]
    start = max(_floor_hour(min(s for s, _ in spans), tz), whole_day[0])
    end = min(_ceil_hour(max(e for _, e in spans), tz), whole_day[1])
    return (start, end), open_intervals


def _bands(reads: _Reads, day: date, window: Interval, open_intervals: list[Interval]):
    tz = reads.opening.location.time_zone
    bands = []
    closed = [window]
    for interval in open_intervals:
        closed = [
            piece
            for part in closed
            for piece in (
                [part]
                if not _overlaps(part, interval)
                else [p for p in ((part[0], interval[0]), (interval[1], part[1])) if p[0] < p[1]]
            )
        ]
    closure_periods = []
    for closure in reads.opening.closures:
        if not closure.first_day <= day <= closure.last_day:
            continue
        if closure.starts_at is None:
            period = window
        else:
            period = (
                datetime.combine(day, closure.starts_at, tzinfo=tz).astimezone(UTC),
                datetime.combine(day, closure.ends_at, tzinfo=tz).astimezone(UTC),
            )
        if _overlaps(period, window):
            closure_periods.append((period, closure.reason))
    for start, end in closed:
        # Closures are drawn with their reason; the rest of the closed time as "closed".
        if any(p[0] <= start and end <= p[1] for p, _ in closure_periods):
            continue
        top = _percent(start, window)
        bands.append(
            Band(start.astimezone(tz), end.astimezone(tz), top, _percent(end, window) - top)
        )
    for (start, end), reason in closure_periods:
        top = _percent(start, window)
        bands.append(
            Band(
                max(start, window[0]).astimezone(tz),
                min(end, window[1]).astimezone(tz),
                top,
                _percent(end, window) - top,
                reason=reason,
            )
        )
    return sorted(bands, key=lambda band: band.starts_at)


def _rows(window: Interval, tz: ZoneInfo) -> list[Row]:
    instants = []
    at = window[0]
    while at < window[1]:
        instants.append(at)
        at += SLOT
    labels = defaultdict(int)
    for instant in instants:
        labels[f"{instant.astimezone(tz):%H:%M}"] += 1
    rows = []
    for instant in instants:
        local = instant.astimezone(tz)
        rows.append(
            Row(
                starts_at=local,
                top=_percent(instant, window),
                is_hour=local.minute == 0,
                ambiguous=labels[f"{local:%H:%M}"] > 1,
            )
        )
    return rows


def _build_day(user, reads: _Reads, day: date) -> CalendarDay:
    location = reads.opening.location
    tz = location.time_zone
    window, open_intervals = _day_window(reads, day, tz)
    by_resource: dict[int, list[Booking]] = defaultdict(list)
    released = []
    for booking in reads.bookings:
        if not _overlaps((booking.starts_at, booking.ends_at), window):
            continue
        if booking.status in ACTIVE_STATUSES:
            by_resource[booking.resource_id].append(booking)
        elif booking.detailed:
            released.append(_block(booking, tz))
    blocks_by_resource: dict[int, list[Maintenance]] = defaultdict(list)
    for block in reads.maintenance:
        if _overlaps((block.starts_at, block.ends_at), window):
            blocks_by_resource[block.resource_id].append(block)

    columns = []
    for resource, is_own in _ordered_resources(user, reads, window):
        bookings = by_resource[resource.pk]
        blocks = blocks_by_resource[resource.pk]
        taken = [(b.starts_at, b.ends_at) for b in [*bookings, *blocks]]
        cells = []
        at = window[0]
        while at < window[1]:
            slot = (at, min(at + SLOT, window[1]))
            is_open = any(s <= slot[0] and slot[1] <= e for s, e in open_intervals)
            if is_open and not any(_overlaps(slot, t) for t in taken):
                top = _percent(slot[0], window)
                cells.append(Cell(at.astimezone(tz), top, _percent(slot[1], window) - top))
            at += SLOT
        columns.append(
            Column(
                resource=resource,
                is_own=is_own,
                bookings=[_block(b, tz, window) for b in bookings],
                blocks=[_time_block(m, tz, window) for m in blocks],
                cells=cells,
            )
        )
    next_midnight = local_midnight(day + timedelta(days=1), tz)
    return CalendarDay(
        location=location,
        day=day,
        starts_at=window[0].astimezone(tz),
        ends_at=window[1].astimezone(tz),
        day_hours=(next_midnight - local_midnight(day, tz)) / timedelta(hours=1),
        is_open=bool(open_intervals),
        rows=_rows(window, tz),
        bands=_bands(reads, day, window, open_intervals),
        columns=columns,
        released=released,
    )


# --- The selectors ------------------------------------------------------------------------------


def calendar_day(*, user, location: Location, day: date) -> CalendarDay:
    """One local day of a location, a column per resource, as `user` may see it."""
    return _build_day(user, _read(user, location, day, day), day)


def calendar_week(*, user, location: Location, first_day: date, days: int = 7) -> CalendarWeek:
    """`days` local days from `first_day`, read in one go; each day drawn like calendar_day."""
    last = first_day + timedelta(days=days - 1)
    reads = _read(user, location, first_day, last)
    return CalendarWeek(
        location=location,
        days=[_build_day(user, reads, first_day + timedelta(days=n)) for n in range(days)],
    )


def rental_timeline(
    *, user, location: Location, first_day: date, day: date, days: int = 14
) -> RentalTimeline:
    """The location's cars from `first_day` for `days` days; pick-ups and returns of `day`."""
    tz = location.time_zone
    last = first_day + timedelta(days=days - 1)
    reads = _read(user, location, min(first_day, day), max(last, day))
    window = (local_midnight(first_day, tz), local_midnight(last + timedelta(days=1), tz))
    timeline_days = []
    for n in range(days):
        current = first_day + timedelta(days=n)
        left = _percent(local_midnight(current, tz), window)
        timeline_days.append(
            TimelineDay(
                day=current,
                left=left,
                width=_percent(local_midnight(current + timedelta(days=1), tz), window) - left,
                is_closed=not reads.opening.open_intervals(current),
            )
        )
    cars = [
        (resource, is_own)
        for resource, is_own in _ordered_resources(user, reads, window)
        if resource.kind == ResourceKind.CAR
    ]
    car_ids = {resource.pk for resource, _ in cars}
    active = [b for b in reads.bookings if b.status in ACTIVE_STATUSES and b.resource_id in car_ids]
    rows = []
    for resource, _ in cars:
        spans = []
        for booking in active:
            if booking.resource_id != resource.pk:
                continue
            if not _overlaps((booking.starts_at, booking.ends_at), window):
                continue
            block = _block(booking, tz, window)
            spans.append(RentalSpan(block, block.top, block.height))
        blocked = []
        for item in reads.maintenance:
            if item.resource_id == resource.pk and _overlaps(
                (item.starts_at, item.ends_at), window
            ):
                block = _time_block(item, tz, window)
                blocked.append(RentalSpan(block, block.top, block.height))
        rows.append(CarRow(resource=resource, spans=spans, blocks=blocked))
    names = {resource.pk: str(resource) for resource, _ in cars}

    def on(instant: datetime) -> bool:
        return instant.astimezone(tz).date() == day

    def listed(bookings: Iterable[Booking], key: str) -> list[BookingBlock]:
        chosen = sorted(bookings, key=lambda b: getattr(b, key))
        return [
            _with_resource(_block(b, tz), names[b.resource_id])
            for b in chosen
            if on(getattr(b, key))
        ]

    return RentalTimeline(
        location=location,
        day=day,
        days=timeline_days,
        rows=rows,
        pickups=listed(active, "starts_at"),
        returns=listed(active, "ends_at"),
    )


def _with_resource(block: BookingBlock, name: str) -> BookingBlock:
    return replace(block, resource_name=name)

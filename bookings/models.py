"""Services, opening hours, closures, bookings and their timeline.

The no-double-booking guarantee lives in Occupancy: every active booking and every maintenance
window owns one row there, and an exclusion constraint refuses two overlapping rows on one
resource. Services write those rows (bookings/services.py); nothing else does.
"""

from datetime import time, timedelta
from decimal import Decimal

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DecimalRangeField, RangeOperators
from django.contrib.postgres.indexes import GistIndex
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Func, Q
from django.utils import timezone
from django_scopes import ScopedManager

from accounts.models import Customer, Location, TenantModel, User
from fleet.models import Maintenance, Resource


class ServiceKind(models.TextChoices):
    APPOINTMENT = "appointment", "Appointment (fixed duration, booked in slots)"
    RENTAL = "rental", "Rental (a car over one or more days, priced per day)"


class VehicleType(models.TextChoices):
    SEDAN = "sedan", "Sedan"
    SUV = "suv", "SUV"
    VAN = "van", "Van"


class Service(TenantModel):
    """What a customer books: a wash, a haircut, a car rental."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=12, choices=ServiceKind.choices)
    duration_minutes = models.PositiveIntegerField(
        default=0, help_text="Length of an appointment; rentals choose their own length."
    )
    buffer_before_minutes = models.PositiveIntegerField(default=0)
    buffer_after_minutes = models.PositiveIntegerField(default=0)
    price = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="In the organization's currency; a rental is priced from the car's daily rate.",
    )
    resources = models.ManyToManyField(Resource, related_name="services", blank=True)
    minimum_notice_minutes = models.PositiveIntegerField(default=60)
    maximum_advance_days = models.PositiveIntegerField(default=90)
    slot_granularity_minutes = models.PositiveIntegerField(
        default=15, validators=[MinValueValidator(5), MaxValueValidator(24 * 60)]
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="service_price_not_negative"),
            models.CheckConstraint(
                condition=Q(kind=ServiceKind.RENTAL) | Q(duration_minutes__gt=0),
                name="appointment_has_duration",
                violation_error_message="An appointment needs a duration.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ServiceVehiclePrice(TenantModel):
    """A service's price for one vehicle type, replacing its base price (car washes)."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="vehicle_prices")
    vehicle_type = models.CharField(max_length=10, choices=VehicleType.choices)
    price = models.DecimalField(
        max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["service", "vehicle_type"], name="one_price_per_service_and_vehicle_type"
            ),
            models.CheckConstraint(condition=Q(price__gte=0), name="vehicle_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.service}, {self.get_vehicle_type_display()}: {self.price}"


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class OpeningHours(TenantModel):
    """One opening interval of a location on a weekday, in the location's wall-clock time.

    Several rows on one day give breaks. Closing at 00:00 means midnight at the end of the day.
    """

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens_at = models.TimeField()
    closes_at = models.TimeField()

    tenant_location_path = "location"

    class Meta:
        ordering = ["location", "weekday", "opens_at"]
        verbose_name_plural = "opening hours"
        constraints = [
            models.CheckConstraint(
                condition=Q(opens_at__lt=F("closes_at")) | Q(closes_at=time(0)),
                name="opening_hours_open_before_close",
                violation_error_message="Opening time must be before closing time.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens_at:%H:%M}-{self.closes_at:%H:%M}"


class Closure(TenantModel):
    """Days (or hours on those days) a location, or the whole organization, is closed.

    Dates and times are the location's wall-clock calendar, like opening hours: "closed on
    25 December" means that local day wherever each location is.
    """

    location = models.ForeignKey(
        Location,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="closures",
        help_text="Leave empty to close every location of the organization.",
    )
    first_day = models.DateField()
    last_day = models.DateField()
    starts_at = models.TimeField(null=True, blank=True, help_text="Empty: the whole day.")
    ends_at = models.TimeField(null=True, blank=True, help_text="Empty: the whole day.")
    reason = models.CharField(max_length=200)

    tenant_location_path = "location"

    class Meta:
        ordering = ["first_day"]
        constraints = [
            models.CheckConstraint(
                condition=Q(first_day__lte=F("last_day")),
                name="closure_first_day_not_after_last",
                violation_error_message="The first day must not be after the last day.",
            ),
            models.CheckConstraint(
                condition=Q(starts_at__isnull=True, ends_at__isnull=True)
                | Q(starts_at__lt=F("ends_at")),
                name="closure_hours_both_or_none",
                violation_error_message="Give both a start and an end time, start before end.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reason} ({self.first_day}-{self.last_day})"


class BookingStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    CONFIRMED = "confirmed", "Confirmed"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    NO_SHOW = "no_show", "No-show"


# The legal moves of the lifecycle; bookings.services refuses any other.
TRANSITIONS: dict[str, frozenset[str]] = {
    BookingStatus.PENDING: frozenset({BookingStatus.CONFIRMED, BookingStatus.CANCELLED}),
    BookingStatus.CONFIRMED: frozenset(
        {BookingStatus.IN_PROGRESS, BookingStatus.CANCELLED, BookingStatus.NO_SHOW}
    ),
    BookingStatus.IN_PROGRESS: frozenset({BookingStatus.COMPLETED}),
    BookingStatus.COMPLETED: frozenset(),
    BookingStatus.CANCELLED: frozenset(),
    BookingStatus.NO_SHOW: frozenset(),
}
# Statuses that give the resource's time back (their Occupancy row is deleted).
RELEASING_STATUSES = frozenset({BookingStatus.CANCELLED, BookingStatus.NO_SHOW})


class PaymentStatus(models.TextChoices):
    UNPAID = "unpaid", "Unpaid"
    DEPOSIT_PAID = "deposit_paid", "Deposit paid"
    PAID = "paid", "Paid"
    REFUNDED = "refunded", "Refunded"


class BookingSource(models.TextChoices):
    CUSTOMER = "customer", "Customer (booking pages)"
    STAFF = "staff", "Staff"
    API = "api", "API client"


class OccupancyRange(Func):
    """occupancy_range(id, starts_at, ends_at): one numrange per id (a resource's, a
    location's) and period.

    PostgreSQL without btree_gist cannot put `resource_id WITH =` into a GiST exclusion
    constraint, so the constraint works on one range that encodes both: the id shifted far above
    any epoch second, plus the period's epoch seconds. Two such ranges overlap exactly when the
    id is the same and the periods overlap. The SQL function is created by migration bookings
    0001 and is IMMUTABLE because epoch seconds do not depend on time zones.
    """

    function = "occupancy_range"
    output_field = DecimalRangeField()


class Booking(TenantModel):
    """A customer's booking of a service on one resource for a period (stored in UTC)."""

    # db_index=False where a composite index below starts with the column (docs/indexes.md).
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="bookings", db_index=False
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="bookings", db_index=False
    )
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="bookings")
    resource = models.ForeignKey(
        Resource, on_delete=models.PROTECT, related_name="bookings", db_index=False
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(
        max_length=12, choices=BookingStatus.choices, default=BookingStatus.PENDING
    )
    payment_status = models.CharField(
        max_length=12, choices=PaymentStatus.choices, default=PaymentStatus.UNPAID
    )
    vehicle_type = models.CharField(max_length=10, choices=VehicleType.choices, blank=True)
    total_price = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3)
    code = models.CharField(max_length=12, unique=True, editable=False)
    # Optimistic locking: every change bumps it; a change based on an older version is refused.
    version = models.PositiveIntegerField(default=1, editable=False)
    source = models.CharField(max_length=10, choices=BookingSource.choices)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    notes = models.TextField(blank=True)
    # The booking form's one-time key: a form posted twice (a double click, a reload) books once.
    submission_key = models.CharField(max_length=32, blank=True, editable=False)
    cancellation_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    tenant_location_path = "location"
    tenant_owner_path = "resource__membership__user"

    class Meta:
        ordering = ["-starts_at"]
        # Chosen from EXPLAIN ANALYZE on 100k bookings (docs/indexes.md): each serves one real
        # query without reading a resource's, location's or customer's whole history.
        indexes = [
            models.Index(fields=["resource", "ends_at"], name="booking_resource_window"),
            models.Index(fields=["location", "starts_at"], name="booking_location_day"),
            models.Index(fields=["customer", "-starts_at"], name="booking_customer_history"),
            models.Index(
                fields=["organization", "status", "starts_at"], name="booking_status_by_start"
            ),
            # Exactly one location's bookings overlapping a period, past and future unread:
            # today's schedule and analytics' live slice (analytics/figures.py). The range
            # encodes the location id as Occupancy's encodes the resource id.
            GistIndex(
                OccupancyRange(F("location_id"), F("starts_at"), F("ends_at")),
                name="booking_location_period",
            ),
            # What was booked since the analytics views' last refresh.
            models.Index(fields=["location", "created_at"], name="booking_location_made"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_at__lt=F("ends_at")), name="booking_starts_before_it_ends"
            ),
            models.CheckConstraint(
                condition=Q(total_price__gte=0), name="booking_price_not_negative"
            ),
            models.UniqueConstraint(
                fields=["submission_key"],
                condition=~Q(submission_key=""),
                name="one_booking_per_form_submission",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class Occupancy(TenantModel):
    """The time a resource is taken, by one booking (buffers included) or one maintenance window."""

    resource = models.ForeignKey(
        Resource, on_delete=models.CASCADE, related_name="occupancies", db_index=False
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    booking = models.OneToOneField(
        Booking, on_delete=models.CASCADE, null=True, blank=True, related_name="occupancy"
    )
    maintenance = models.OneToOneField(
        Maintenance, on_delete=models.CASCADE, null=True, blank=True, related_name="occupancy"
    )

    tenant_location_path = "resource__location"

    class Meta:
        verbose_name_plural = "occupancies"
        # Availability asks "what of these resources ends after the window starts": bounded by
        # ends_at, the scan skips the past; starts_at is included for an index-only scan.
        indexes = [
            models.Index(
                fields=["resource", "ends_at"],
                include=["starts_at"],
                name="occupancy_resource_window",
            ),
        ]
        constraints = [
            ExclusionConstraint(
                name="occupancy_no_overlap_per_resource",
                expressions=[
                    (
                        OccupancyRange(F("resource_id"), F("starts_at"), F("ends_at")),
                        RangeOperators.OVERLAPS,
                    )
                ],
                violation_error_message="The resource is already taken for this period.",
            ),
            models.CheckConstraint(
                condition=Q(starts_at__lt=F("ends_at")), name="occupancy_starts_before_it_ends"
            ),
            models.CheckConstraint(
                condition=Q(booking__isnull=True, maintenance__isnull=False)
                | Q(booking__isnull=False, maintenance__isnull=True),
                name="occupancy_has_one_owner",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.resource} {self.starts_at:%Y-%m-%d %H:%M}-{self.ends_at:%H:%M} UTC"


class BookingEvent(TenantModel):
    """One entry of a booking's timeline: who did what, when, from which state to which."""

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=30)
    actor = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    from_status = models.CharField(max_length=12, choices=BookingStatus.choices, blank=True)
    to_status = models.CharField(max_length=12, choices=BookingStatus.choices, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    tenant_location_path = "booking__location"
    tenant_owner_path = "booking__resource__membership__user"

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["booking", "created_at"], name="booking_event_timeline")]

    def __str__(self) -> str:
        return f"{self.booking}: {self.kind}"


# How long an API client may retry a request with the same Idempotency-Key.
IDEMPOTENCY_KEY_LIFETIME = timedelta(hours=24)


class IdempotencyRecordQuerySet(models.QuerySet):
    def expired(self) -> "IdempotencyRecordQuerySet":
        return self.filter(created_at__lt=timezone.now() - IDEMPOTENCY_KEY_LIFETIME)


class IdempotencyRecord(models.Model):
    """The first answer to an API request that carried an `Idempotency-Key` (bookings/api).

    Written in the same transaction as the booking change it answers, so a retry finds either
    nothing (the change did not happen) or the answer of the change that did.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(
        max_length=64, help_text="SHA-256 of method, path, body."
    )
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = IdempotencyRecordQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="one_idempotency_key_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"


class EmailKind(models.TextChoices):
    CONFIRMATION = "confirmation", "Booking confirmation"
    CHANGE = "change", "Booking changed"
    CANCELLATION = "cancellation", "Booking cancelled"
    REMINDER = "reminder", "Reminder"


class EmailStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (gave up retrying)"


class OutboxEmailQuerySet(models.QuerySet):
    def due(self) -> "OutboxEmailQuerySet":
        """Pending emails a minute past their attempt time: their task was lost (a broker down
        at commit, a worker gone). The minute spares the tasks that are merely on their way."""
        overdue = timezone.now() - timedelta(minutes=1)
        return self.filter(status=EmailStatus.PENDING, next_attempt_at__lte=overdue).order_by(
            "next_attempt_at"
        )


class OutboxEmail(TenantModel):
    """An email to a customer about one event of their booking: the transactional outbox.

    Written, fully rendered, in the transaction that changes the booking, so the email exists if
    and only if the change committed; a Celery task sends it afterwards (bookings/tasks.py).
    `event_key` names the event ("created", "rescheduled:3"...): one row per event, so an
    event is never emailed twice.
    """

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="emails")
    kind = models.CharField(max_length=12, choices=EmailKind.choices)
    event_key = models.CharField(max_length=64)
    to = models.EmailField()
    subject = models.CharField(max_length=255)
    body_text = models.TextField()
    body_html = models.TextField()
    calendar = models.TextField(help_text="The .ics attachment (iCalendar).")
    status = models.CharField(
        max_length=8, choices=EmailStatus.choices, default=EmailStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # When a pending email should next be tried; the sweeper re-queues those past due.
    next_attempt_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(
        organization="organization",
        _manager_class=models.Manager.from_queryset(OutboxEmailQuerySet),
    )

    tenant_location_path = "booking__location"
    tenant_owner_path = "booking__resource__membership__user"

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "email"
        constraints = [
            models.UniqueConstraint(
                fields=["booking", "event_key"], name="one_email_per_booking_event"
            ),
        ]
        indexes = [
            # The sweeper's query: only pending rows are indexed, so the index stays tiny.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="outbox_email_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.booking}"

"""A booking, its statuses and its timeline (BookingEvent)."""

from django.contrib.postgres.fields import DecimalRangeField
from django.contrib.postgres.indexes import GistIndex
from django.db import models
from django.db.models import F, Func, Q

from accounts.models import Customer, Location, TenantModel, User
from bookings.models.catalogue import Service, VehicleType
from config.encryption import EncryptedCharField, EncryptedJSONField, EncryptedTextField
from fleet.models import Resource


class BookingStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    CONFIRMED = "confirmed", "Confirmed"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    NO_SHOW = "no_show", "No-show"


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
    notes = EncryptedTextField(blank=True)
    # The booking form's one-time key: a form posted twice (a double click, a reload) books once.
    submission_key = models.CharField(max_length=32, blank=True, editable=False)
    cancellation_reason = EncryptedCharField(max_length=500, blank=True)
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


class BookingEvent(TenantModel):
    """One entry of a booking's timeline: who did what, when, from which state to which."""

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=30)
    actor = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    from_status = models.CharField(max_length=12, choices=BookingStatus.choices, blank=True)
    to_status = models.CharField(max_length=12, choices=BookingStatus.choices, blank=True)
    # Encrypted: it carries what a customer or staff typed (a cancellation's reason).
    changes = EncryptedJSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    tenant_location_path = "booking__location"
    tenant_owner_path = "booking__resource__membership__user"

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["booking", "created_at"], name="booking_event_timeline")]

    def __str__(self) -> str:
        return f"{self.booking}: {self.kind}"

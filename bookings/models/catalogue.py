"""What an organization offers and when: services, their prices per vehicle type, opening hours
and closures (both on the location's wall clock)."""

from datetime import time
from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from accounts.models import Location, TenantModel
from fleet.models import Resource


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

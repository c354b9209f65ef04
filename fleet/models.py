"""What an organization books out: wash bays, cars and staff members' time.

fleet knows nothing of bookings: the time a resource is taken (bookings.Occupancy, guarded by
an exclusion constraint), its maintenance windows and the reviews of cars all belong to the
engine above it, which reads and writes these models.
"""

from decimal import Decimal

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from accounts.models import Location, Membership, TenantModel


class ResourceKind(models.TextChoices):
    BAY = "bay", "Bay or station"
    CAR = "car", "Car"
    STAFF = "staff", "Staff member"


class Resource(TenantModel):
    """One bookable thing at a location: a bay, a car, or one staff member's time."""

    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="resources")
    kind = models.CharField(max_length=10, choices=ResourceKind.choices)
    name = models.CharField(max_length=200)
    membership = models.ForeignKey(
        Membership,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="resources",
        help_text="For a staff member's time: whose.",
    )
    is_active = models.BooleanField(default=True, help_text="Inactive resources take no bookings.")

    tenant_location_path = "location"
    tenant_owner_path = "membership__user"

    class Meta:
        ordering = ["location", "name"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind=ResourceKind.STAFF) | Q(membership__isnull=False),
                name="staff_resource_has_membership",
                violation_error_message="A staff member's time must name the staff member.",
            ),
            models.UniqueConstraint(
                fields=["location", "name"], name="resource_name_unique_per_location"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CarFeature(models.TextChoices):
    GPS = "gps", "GPS navigation"
    BLUETOOTH = "bluetooth", "Bluetooth"
    CHILD_SEAT = "child_seat", "Child seat"
    AIR_CONDITIONING = "air_conditioning", "Air conditioning"
    HEATED_SEATS = "heated_seats", "Heated seats"
    ROOF_RACK = "roof_rack", "Roof rack"
    TOW_BAR = "tow_bar", "Tow bar"
    ELECTRIC = "electric", "Electric"
    FOUR_WHEEL_DRIVE = "four_wheel_drive", "Four-wheel drive"
    CARPLAY = "carplay", "Apple CarPlay / Android Auto"


class Transmission(models.TextChoices):
    MANUAL = "manual", "Manual"
    AUTOMATIC = "automatic", "Automatic"


class Car(TenantModel):
    """The rental details of a car resource. Rating fields are kept by fleet.services only."""

    resource = models.OneToOneField(Resource, on_delete=models.CASCADE, related_name="car")
    make = models.CharField(max_length=100)
    model = models.CharField(max_length=100)
    year = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1950), MaxValueValidator(2100)]
    )
    daily_rate = models.DecimalField(
        max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    features = ArrayField(
        models.CharField(max_length=30, choices=CarFeature.choices), default=list, blank=True
    )
    seats = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])
    transmission = models.CharField(max_length=10, choices=Transmission.choices)
    average_rating = models.DecimalField(
        max_digits=3, decimal_places=2, null=True, blank=True, editable=False
    )
    review_count = models.PositiveIntegerField(default=0, editable=False)

    tenant_location_path = "resource__location"

    class Meta:
        ordering = ["make", "model"]
        indexes = [GinIndex(fields=["features"], name="car_features_gin")]
        constraints = [
            models.CheckConstraint(
                condition=Q(daily_rate__gte=0), name="car_daily_rate_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.make} {self.model} ({self.year})"

    @property
    def feature_labels(self) -> list[str]:
        return [CarFeature(feature).label for feature in self.features]

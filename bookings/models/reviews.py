"""Customers' reviews of the cars they rented. A review belongs to a completed booking, so it
lives in the engine; the car's rating fields (fleet.Car) are kept by bookings.services.reviews."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from accounts.models import Customer, TenantModel, User
from bookings.models.booking import Booking
from config.encryption import EncryptedTextField
from fleet.models import Car


class ReviewStatus(models.TextChoices):
    PENDING = "pending", "Awaiting moderation"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class CarReview(TenantModel):
    """A customer's review of a car after a completed rental; counts once approved."""

    booking = models.OneToOneField(Booking, on_delete=models.PROTECT, related_name="review")
    car = models.ForeignKey(Car, on_delete=models.CASCADE, related_name="reviews")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="car_reviews")
    rating = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    comment = EncryptedTextField(blank=True)
    status = models.CharField(
        max_length=10, choices=ReviewStatus.choices, default=ReviewStatus.PENDING
    )
    moderated_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, editable=False, related_name="+"
    )
    moderated_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    tenant_location_path = "car__resource__location"

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__gte=1, rating__lte=5), name="car_review_rating_1_to_5"
            ),
        ]
        indexes = [models.Index(fields=["car", "status"], name="car_review_car_status")]

    def __str__(self) -> str:
        return f"{self.rating}/5 for {self.car}"

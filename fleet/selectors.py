"""Reads of the fleet shared by the car catalogue's API and the booking pages."""

from datetime import datetime

from django.db.models import Exists, OuterRef, QuerySet

from bookings.models import Occupancy
from fleet.models import Car, CarReview, ReviewStatus


def bookable_cars() -> QuerySet[Car]:
    """The organization's cars that take bookings, with what a list of them shows."""
    return (
        Car.objects.filter(resource__is_active=True)
        .select_related("organization", "resource__location")
        .order_by("make", "model", "pk")
    )


def cars_free_between(cars: QuerySet[Car], starts_at: datetime, ends_at: datetime) -> QuerySet:
    """The cars with no booking or maintenance overlapping [starts_at, ends_at)."""
    taken = Occupancy.objects.filter(
        resource=OuterRef("resource"), starts_at__lt=ends_at, ends_at__gt=starts_at
    )
    return cars.filter(~Exists(taken))


def car_reviews_published(car: Car) -> QuerySet[CarReview]:
    """A car's approved reviews, newest first."""
    return (
        CarReview.objects.filter(car=car, status=ReviewStatus.APPROVED)
        .select_related("customer")
        .order_by("-created_at", "-pk")
    )

"""Car reviews and the rating they feed (fleet.Car's rating fields are written only here)."""

from django.db import IntegrityError, transaction
from django.db.models import Avg, Count
from django.utils import timezone

from accounts.models import User
from bookings.errors import ReviewNotAllowed
from bookings.models import Booking, BookingStatus, CarReview, ReviewStatus
from fleet.models import Car


@transaction.atomic
def car_review_create(*, booking: Booking, rating: int, comment: str = "") -> CarReview:
    """The customer's review of the car of a completed booking; it counts once approved."""
    car = Car.objects.filter(resource_id=booking.resource_id).first()
    if car is None:
        raise ReviewNotAllowed("Only car rentals can be reviewed.")
    if booking.status != BookingStatus.COMPLETED:
        raise ReviewNotAllowed("A car can be reviewed once the rental is completed.")
    if not 1 <= rating <= 5:
        raise ReviewNotAllowed("A rating is from 1 to 5.", field="rating")
    try:
        with transaction.atomic():
            return CarReview.objects.create(
                organization_id=booking.organization_id,
                booking=booking,
                car=car,
                customer_id=booking.customer_id,
                rating=rating,
                comment=comment,
            )
    except IntegrityError as error:
        raise ReviewNotAllowed("This booking has already been reviewed.") from error


@transaction.atomic
def car_review_moderate(*, actor: User, review: CarReview, approve: bool) -> CarReview:
    """Approve or reject a review and bring the car's rating and count up to date."""
    review.status = ReviewStatus.APPROVED if approve else ReviewStatus.REJECTED
    review.moderated_by, review.moderated_at = actor, timezone.now()
    review.save(update_fields=["status", "moderated_by", "moderated_at"])
    car_rating_refresh(car_id=review.car_id)
    return review


def car_rating_refresh(*, car_id: int) -> None:
    """Recompute the rating from the approved reviews, under a lock on the car row so two
    moderators working at once cannot leave a count that misses one of them."""
    car = Car.objects.select_for_update().get(pk=car_id)
    figures = CarReview.objects.filter(car=car, status=ReviewStatus.APPROVED).aggregate(
        average=Avg("rating"), count=Count("pk")
    )
    car.average_rating = round(figures["average"], 2) if figures["average"] is not None else None
    car.review_count = figures["count"]
    car.save(update_fields=["average_rating", "review_count"])

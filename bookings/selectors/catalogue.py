"""What an organization offers, as the booking pages and the API both list and search it."""

from datetime import datetime, time

from django.db.models import Exists, OuterRef, Prefetch, QuerySet

from accounts.models import Location
from accounts.roles import kinds_in_organizations
from bookings.models import (
    CarReview,
    Occupancy,
    ReviewStatus,
    Service,
    ServiceKind,
    ServiceVehiclePrice,
    Weekday,
)
from fleet.models import Car, Resource, ResourceKind


def offered_services() -> QuerySet[Service]:
    """The active services, with their prices per vehicle type (cheapest first) and the active
    resources that serve them: what every list of services shows."""
    return (
        Service.objects.filter(is_active=True)
        .select_related("organization")
        .prefetch_related(
            Prefetch("vehicle_prices", ServiceVehiclePrice.objects.order_by("price", "pk")),
            Prefetch("resources", queryset=Resource.objects.filter(is_active=True)),
        )
        .order_by("name", "pk")
    )


def service_locations(service: Service) -> QuerySet[Location]:
    """The locations where some active resource serves the service."""
    return Location.objects.filter(
        pk__in=service.resources.filter(is_active=True).values("location")
    ).order_by("name")


def bookable_locations() -> QuerySet[Location]:
    """The locations where something can be booked: an active resource serving an active
    service. The opening hours come prefetched, for weekly_hours()."""
    serving = Resource.objects.filter(
        location=OuterRef("pk"), is_active=True, services__is_active=True
    )
    return (
        Location.objects.filter(Exists(serving)).prefetch_related("opening_hours").order_by("name")
    )


def weekly_hours(location: Location) -> list[tuple[str, list[tuple[time, time]]]]:
    """A location's week of opening hours, Monday first: each day's name and its intervals
    (none: closed). Reads `opening_hours` (prefetched by bookable_locations)."""
    week: dict[int, list[tuple[time, time]]] = {day: [] for day in Weekday.values}
    for hours in sorted(location.opening_hours.all(), key=lambda h: (h.weekday, h.opens_at)):
        week[hours.weekday].append((hours.opens_at, hours.closes_at))
    return [(Weekday(day).label, intervals) for day, intervals in week.items()]


def staff_serving(service: Service, location: Location) -> list[Resource]:
    """The people (staff resources) at the location who perform the service, for "choose
    your barber"; empty where the service is done by bays or cars."""
    return list(
        service.resources.filter(
            location=location, is_active=True, kind=ResourceKind.STAFF
        ).order_by("name", "pk")
    )


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


def car_search(
    cars: QuerySet[Car],
    *,
    location: Location | int | None = None,
    features: list[str] | None = None,
    transmission: str = "",
    seats_min: int | None = None,
    free_from: datetime | None = None,
    free_to: datetime | None = None,
) -> QuerySet[Car]:
    """The fleet search of the car pages and the API's catalogue: each criterion given
    narrows the cars; a period keeps only cars with nothing booked or in maintenance then."""
    if location is not None:
        cars = cars.filter(resource__location=location)
    if features:
        cars = cars.filter(features__contains=list(features))
    if transmission:
        cars = cars.filter(transmission=transmission)
    if seats_min:
        cars = cars.filter(seats__gte=seats_min)
    if free_from is not None and free_to is not None:
        cars = cars_free_between(cars, free_from, free_to)
    return cars


def service_kinds_of(user) -> frozenset[str]:
    """The kinds of service the user's organizations offer (appointments, rentals)."""
    return kinds_in_organizations(user, Service, ServiceKind.values)

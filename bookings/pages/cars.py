"""The rental company's pages: search the fleet for dates, and a car with its reviews.

Booking the car chosen here continues on the booking pages' last steps (journey.book).
"""

import functools
from datetime import datetime, time, timedelta
from urllib.parse import urlencode

from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone

from accounts.models import Location
from bookings.models import Service, ServiceKind
from bookings.pages.forms import CarSearchForm, RentalPeriodForm
from bookings.pages.rendering import BAD_REQUEST, render_at
from bookings.policy import booking_notice
from bookings.pricing import quote
from bookings.selectors import (
    bookable_cars,
    car_free_periods,
    car_reviews_published,
    car_search,
    cars_free_between,
    period_refusal,
    weekly_hours,
)
from fleet.models import Car


def _with_rental_service(cars: QuerySet[Car]) -> QuerySet[Car]:
    """Cars with `rental_services`: the active rental services that book them."""
    return cars.prefetch_related(
        Prefetch(
            "resource__services",
            Service.objects.filter(kind=ServiceKind.RENTAL, is_active=True)
            .select_related("organization")
            .order_by("pk"),
            to_attr="rental_services",
        )
    )


def _refusal(service: Service, location: Location, starts_at: datetime, ends_at: datetime):
    """What the booking step would refuse for this period by the rules of time (notice, the
    booking window, opening hours at pick-up and return), checked by the engine's own rule."""
    return period_refusal(
        service=service,
        location=location,
        starts_at=starts_at,
        ends_at=ends_at,
        notice=booking_notice(service, at_the_desk=False),
    )


def _offer(car: Car, starts_at: datetime, ends_at: datetime, refusal_of=None) -> dict:
    """The car for this period: its price, and the booking pages' next step (none if no
    service rents it out, or the period breaks a rule of booking: then `refusal` says which)."""
    if not car.resource.rental_services:
        return {"car": car, "price": None, "book_url": None, "refusal": None}
    service = car.resource.rental_services[0]
    refusal = (refusal_of or _refusal)(service, car.resource.location, starts_at, ends_at)
    if refusal:
        return {"car": car, "price": None, "book_url": None, "refusal": refusal}
    price = quote(
        service=service,
        location=car.resource.location,
        starts_at=starts_at,
        ends_at=ends_at,
        resource=car.resource,
    )
    path = reverse(
        "pages:book",
        kwargs={
            "organization_slug": car.organization.slug,
            "service_id": service.pk,
            "location_slug": car.resource.location.slug,
        },
    )
    query = {"starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat(), "car": car.pk}
    return {"car": car, "price": price, "book_url": f"{path}?{urlencode(query)}", "refusal": None}


def _default_period(zone) -> dict:
    """Tomorrow 10:00 to the day after, 10:00, as the form's starting point."""
    tomorrow = timezone.localdate(timezone=zone) + timedelta(days=1)
    return {
        "pickup_date": tomorrow,
        "pickup_time": time(10),
        "return_date": tomorrow + timedelta(days=1),
        "return_time": time(10),
    }


def car_search_page(request: HttpRequest, organization_slug: str) -> HttpResponse:
    """Free cars for the dates, at a location, with the features asked for."""
    locations = Location.objects.filter(resources__car__isnull=False).distinct().order_by("name")
    first = locations.first()
    if "location" not in request.GET:
        form = CarSearchForm(
            initial={"location": first, **_default_period(first.time_zone)} if first else {},
            locations=locations,
        )
        return render_at(request, "pages/car_search.html", {"form": form, "results": None})
    form = CarSearchForm(request.GET, locations=locations)
    if not form.is_valid():
        return render_at(
            request,
            "pages/car_search.html",
            {"form": form, "results": None},
            status=BAD_REQUEST,
        )
    data = form.cleaned_data
    location, starts_at, ends_at = data["location"], data["pickup_at"], data["return_at"]
    cars = car_search(
        bookable_cars(),
        location=location,
        features=data["features"],
        transmission=data["transmission"],
        seats_min=data["seats_min"],
        free_from=starts_at,
        free_to=ends_at,
    )
    # The rules depend on the service and the place, not the car: checked once for each.
    refusal_of = functools.cache(_refusal)
    offers = [_offer(car, starts_at, ends_at, refusal_of) for car in _with_rental_service(cars)]
    # A car is offered only for a period the last step will accept; otherwise say why.
    refusals = list(dict.fromkeys(o["refusal"].message for o in offers if o["refusal"]))
    return render_at(
        request,
        "pages/car_search.html",
        {
            "form": form,
            "results": [offer for offer in offers if not offer["refusal"]],
            "refusals": refusals,
            "hours": weekly_hours(location),
            "period_query": urlencode(
                {key: request.GET[key] for key in RentalPeriodForm.base_fields}
            ),
        },
        location=location,
    )


def car_page(request: HttpRequest, organization_slug: str, car_id: int) -> HttpResponse:
    """A car, its reviews, when it is free, and its price for the dates asked."""
    car = get_object_or_404(_with_rental_service(bookable_cars()), pk=car_id)
    location = car.resource.location
    zone = location.time_zone
    context = {
        "car": car,
        "hours": weekly_hours(location),
        "reviews": car_reviews_published(car)[:20],
        "free_periods": car_free_periods(
            car=car,
            date_from=timezone.localdate(timezone=zone),
            date_to=timezone.localdate(timezone=zone) + timedelta(days=13),
        ),
    }
    status = 200
    if "pickup_date" in request.GET:
        form = RentalPeriodForm(request.GET, zone=zone)
        if form.is_valid():
            starts_at, ends_at = form.cleaned_data["pickup_at"], form.cleaned_data["return_at"]
            context.update(
                offer=_offer(car, starts_at, ends_at),
                is_free=cars_free_between(
                    Car.objects.filter(pk=car.pk), starts_at, ends_at
                ).exists(),
            )
        else:
            status = BAD_REQUEST
    else:
        form = RentalPeriodForm(initial=_default_period(zone), zone=zone)
    context["form"] = form
    return render_at(request, "pages/car.html", context, location=location, status=status)

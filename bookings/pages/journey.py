"""The customer's way to a booking: an organization's landing page, a service, a day, a free
time, contact details, a review with the exact price, and the booking itself.

Each view parses input with a form (bookings/pages/forms.py), calls one selector or service,
and renders in the location's time zone. Bad input is answered 400 with a message next to the
field; a refusal by the engine is answered with its error's status (409 slot taken) and what
the customer can do instead.
"""

import uuid
from calendar import Calendar
from datetime import date, timedelta
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from accounts.models import Location
from bookings.errors import InvalidBookingRequest, SlotUnavailable
from bookings.manage_links import manage_token
from bookings.models import Booking, Service, ServiceKind
from bookings.pages.forms import BookingChoiceForm, BookingDetailsForm
from bookings.pages.rendering import BAD_REQUEST, render_at, slot_times, too_many_attempts
from bookings.pricing import lowest_price, quote, vehicle_prices
from bookings.selectors import (
    bookable_cars,
    bookable_locations,
    car_search,
    nearest_slots,
    offered_services,
    service_locations,
    service_slots,
    staff_serving,
    weekly_hours,
)
from bookings.services import guest_booking_create
from config.api.throttling import page_wait
from fleet.models import Car, Resource

# How far the date picker looks for the first month with a free day.
MONTHS_LOOKED_AHEAD = 12


def _service_at(
    service_id: int, location_slug: str, *, kind: str | None = None
) -> tuple[Service, Location]:
    """The active service (of this kind) and a location that offers it; 404 for any other."""
    services = offered_services() if kind is None else offered_services().filter(kind=kind)
    service = get_object_or_404(services, pk=service_id)
    location = get_object_or_404(service_locations(service), slug=location_slug)
    return service, location


def organization_home(request: HttpRequest, organization_slug: str) -> HttpResponse:
    """An organization's landing page: where something can be booked, its services (each
    from its real lowest price) and its fleet."""
    services = list(offered_services())
    return render(
        request,
        "pages/home.html",
        {
            "locations": [
                {"location": location, "hours": weekly_hours(location)}
                for location in bookable_locations()
            ],
            "services": [
                {"service": s, "from_price": lowest_price(s), "by_vehicle": bool(vehicle_prices(s))}
                for s in services
                if s.kind == ServiceKind.APPOINTMENT
            ],
            "rents_cars": any(s.kind == ServiceKind.RENTAL for s in services),
            "cars": bookable_cars()[:12],
        },
    )


def service_detail(request: HttpRequest, organization_slug: str, service_id: int) -> HttpResponse:
    service = get_object_or_404(offered_services(), pk=service_id, kind=ServiceKind.APPOINTMENT)
    return render(
        request,
        "pages/service.html",
        {
            "service": service,
            "prices": vehicle_prices(service),
            "locations": [
                {"location": location, "hours": weekly_hours(location)}
                for location in service_locations(service).prefetch_related("opening_hours")
            ],
        },
    )


def _month_grid(month: date, free_days: set[date], today: date) -> list[list[dict]]:
    """Weeks of the month, Monday first: each day with whether it has free slots or is past."""
    return [
        [
            {
                "day": day,
                "in_month": day.month == month.month,
                "free": day in free_days,
                "past": day < today,
            }
            for day in week
        ]
        for week in Calendar().monthdatescalendar(month.year, month.month)
    ]


def _month_end(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def _chosen_person(request: HttpRequest, service: Service, location: Location) -> dict:
    """The people who perform the service here and the one chosen (`?resource=`; none:
    anyone). An id of anyone else is a 404."""
    staff = staff_serving(service, location)
    chosen = None
    if request.GET.get("resource"):
        chosen = next((r for r in staff if str(r.pk) == request.GET["resource"]), None)
        if chosen is None:
            raise Http404("No such person performs this service here.")
    return {
        "staff": staff,
        "chosen_person": chosen,
        "person_query": f"?resource={chosen.pk}" if chosen else "",
    }


def service_calendar(
    request: HttpRequest, organization_slug: str, service_id: int, location_slug: str
) -> HttpResponse:
    """A month of days, those with free slots as links: the date picker. Without a month asked
    for, it opens on the first month with a free day."""
    service, location = _service_at(service_id, location_slug, kind=ServiceKind.APPOINTMENT)
    person = _chosen_person(request, service, location)
    today = timezone.localdate(timezone=location.time_zone)
    last_day = (timezone.now() + timedelta(days=service.maximum_advance_days)).astimezone(
        location.time_zone
    )
    last_day = last_day.date()
    first_month, last_month = today.replace(day=1), last_day.replace(day=1)

    def free_days_of(month: date) -> set[date]:
        slots = service_slots(
            service=service,
            location=location,
            date_from=max(month, today),
            date_to=min(_month_end(month), last_day),
            resource=person["chosen_person"],
        )
        return {slot.starts_at.astimezone(location.time_zone).date() for slot in slots}

    try:
        month = date.fromisoformat(request.GET.get("month", "") + "-01")
    except ValueError:
        month = None
    if month is None:
        # Look ahead a year at most: a service booked out further than that says so.
        month = first_month
        free_days = free_days_of(month)
        for _ in range(MONTHS_LOOKED_AHEAD):
            if free_days or month >= last_month:
                break
            month = _month_end(month) + timedelta(days=1)
            free_days = free_days_of(month)
        if not free_days:
            month = first_month
            free_days = free_days_of(month)
    else:
        month = min(max(month, first_month), last_month)
        free_days = free_days_of(month)
    previous_month = (month - timedelta(days=1)).replace(day=1)
    next_month = _month_end(month) + timedelta(days=1)
    return render_at(
        request,
        "pages/calendar.html",
        {
            "service": service,
            "month": month,
            "weeks": _month_grid(month, free_days, today),
            "previous_month": previous_month if previous_month >= first_month else None,
            "next_month": next_month if next_month <= last_day else None,
            **person,
        },
        location=location,
    )


def service_day(
    request: HttpRequest, organization_slug: str, service_id: int, location_slug: str, day: date
) -> HttpResponse:
    """The free start times of one day (of the person chosen, if one was)."""
    service, location = _service_at(service_id, location_slug, kind=ServiceKind.APPOINTMENT)
    person = _chosen_person(request, service, location)
    slots = service_slots(
        service=service,
        location=location,
        date_from=day,
        date_to=day,
        resource=person["chosen_person"],
    )
    book_query = {"resource": person["chosen_person"].pk} if person["chosen_person"] else {}
    return render_at(
        request,
        "pages/day.html",
        {
            "service": service,
            "day": day,
            "slots": [
                {
                    "label": label,
                    "query": urlencode(
                        {
                            "starts_at": slot.starts_at.astimezone(location.time_zone).isoformat(),
                            **book_query,
                        }
                    ),
                }
                for slot, label in slot_times(slots, location.time_zone)
            ],
            "previous_day": day - timedelta(days=1),
            "next_day": day + timedelta(days=1),
            "book_url": reverse(
                "pages:book",
                kwargs={
                    "organization_slug": organization_slug,
                    "service_id": service.pk,
                    "location_slug": location.slug,
                },
            ),
            **person,
        },
        location=location,
    )


class _Booking:
    """What the booking steps carry: the chosen service, place, times and car."""

    def __init__(self, service: Service, location: Location, choice: dict) -> None:
        self.service, self.location = service, location
        self.starts_at = choice["starts_at"]
        self.car: Car | None = None
        self.person: Resource | None = None
        if service.kind == ServiceKind.APPOINTMENT and choice.get("resource"):
            self.person = get_object_or_404(
                service.resources.filter(location=location, is_active=True),
                pk=choice["resource"],
            )
        if service.kind == ServiceKind.RENTAL:
            self.car = get_object_or_404(
                bookable_cars(), pk=choice["car"], resource__location=location
            )
            self.ends_at = choice["ends_at"]
        else:
            self.ends_at = self.starts_at + timedelta(minutes=service.duration_minutes)

    @property
    def resource(self) -> Resource | None:
        return self.car.resource if self.car else self.person

    def price(self, vehicle_type: str = ""):
        return quote(
            service=self.service,
            location=self.location,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            resource=self.resource,
            vehicle_type=vehicle_type,
        )

    def hidden(self) -> dict:
        """The choice as the hidden fields of the next step."""
        fields = {"starts_at": self.starts_at.isoformat()}
        if self.car:
            fields.update(ends_at=self.ends_at.isoformat(), car=self.car.pk)
        if self.person:
            fields["resource"] = self.person.pk
        return fields


def _alternatives(chosen: _Booking) -> dict:
    """What to offer when the chosen time or car was taken: the nearest free slots, or the
    other cars free for the same period."""
    if chosen.car is None:
        slots = nearest_slots(
            service=chosen.service,
            location=chosen.location,
            around=chosen.starts_at,
            resource=chosen.person,
        )
        return {"slots": slot_times(slots, chosen.location.time_zone)}
    cars = car_search(
        bookable_cars().filter(resource__services=chosen.service),
        location=chosen.location,
        free_from=chosen.starts_at,
        free_to=chosen.ends_at,
    ).exclude(pk=chosen.car.pk)
    return {"cars": list(cars[:6])}


@require_http_methods(["GET", "POST"])
def book(
    request: HttpRequest, organization_slug: str, service_id: int, location_slug: str
) -> HttpResponse:
    """The last steps: contact details, a review with the exact price, and the booking.

    Stateless: each step posts the whole choice back, and the last one is checked again by the
    engine, so a slot taken in between is answered with alternatives, never half a booking.
    """
    service, location = _service_at(service_id, location_slug)
    data = request.POST if request.method == "POST" else request.GET
    choice = BookingChoiceForm(data, is_rental=service.kind == ServiceKind.RENTAL)
    if not choice.is_valid():
        return render_at(
            request,
            "pages/choice_invalid.html",
            {"service": service, "errors": choice.errors},
            location=location,
            status=BAD_REQUEST,
        )
    chosen = _Booking(service, location, choice.cleaned_data)
    form_options = {
        "region": location.country,
        "vehicle_prices": vehicle_prices(service),
        "currency": service.organization.currency,
    }
    context = {"service": service, "chosen": chosen}
    step = request.POST.get("step", "details")
    if request.method == "GET" or step == "edit":
        details = BookingDetailsForm(
            initial=request.POST if step == "edit" else None, **form_options
        )
        return render_at(
            request, "pages/details.html", {**context, "form": details}, location=location
        )

    details = BookingDetailsForm(request.POST, **form_options)
    if not details.is_valid():
        return render_at(
            request,
            "pages/details.html",
            {**context, "form": details},
            location=location,
            status=BAD_REQUEST,
        )
    vehicle_type = details.cleaned_data.get("vehicle_type", "")
    if step != "confirm":
        return render_at(
            request,
            "pages/review.html",
            {
                **context,
                "form": details,
                "price": chosen.price(vehicle_type),
                "submission": uuid.uuid4().hex,
            },
            location=location,
        )
    if (wait := page_wait(request, "page_booking")) is not None:
        return too_many_attempts(
            request, wait, "This address has sent too many bookings in a short time."
        )
    try:
        booking = guest_booking_create(
            organization=request.organization,
            full_name=details.cleaned_data["full_name"],
            email=details.cleaned_data["email"],
            phone=str(details.cleaned_data.get("phone") or ""),
            service=service,
            location=location,
            starts_at=chosen.starts_at,
            ends_at=chosen.ends_at if chosen.car else None,
            resource=chosen.resource,
            vehicle_type=vehicle_type,
            notes=details.cleaned_data["notes"],
            submission_key=choice.cleaned_data["submission"],
        )
    except SlotUnavailable as refused:
        # "Just taken" only when it was; too soon, too far ahead or closed say what they are.
        return render_at(
            request,
            "pages/taken.html",
            {
                **context,
                "form": details,
                "message": refused.message,
                "was_taken": refused.code == "slot_taken",
                **_alternatives(chosen),
            },
            location=location,
            status=refused.status_code,
        )
    except InvalidBookingRequest as refused:
        return render_at(
            request,
            "pages/choice_invalid.html",
            {**context, "errors": {"__all__": [refused.message]}},
            location=location,
            status=refused.status_code,
        )
    return _confirmed_redirect(booking)


def _confirmed_redirect(booking: Booking) -> HttpResponse:
    return redirect(
        "pages:booking-confirmed",
        organization_slug=booking.organization.slug,
        token=manage_token(booking),
    )

"""The booking pages: from an organization's landing page to a confirmed booking, and managing
it afterwards through the emailed link, without an account.

Each view parses input with a form (bookings/forms.py), calls one selector or service, and
renders in the location's time zone. Bad input is answered 400 with a message next to the field;
a refusal by the engine (slot taken, too late to cancel, changed meanwhile) is answered 409 with
what the customer can do instead.
"""

import uuid
from calendar import Calendar
from datetime import date, timedelta

from django.contrib import messages
from django.db import IntegrityError
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from accounts.models import Location
from bookings.errors import (
    DomainError,
    InvalidBookingRequest,
    SlotUnavailable,
)
from bookings.forms import (
    FIRST_DAY,
    LAST_DAY,
    BookingChoiceForm,
    BookingDetailsForm,
    BookingLookupForm,
    CancelForm,
    RentalRescheduleForm,
    RescheduleForm,
)
from bookings.manage_links import ManageLinkRefused, booking_for_manage_token, manage_token
from bookings.models import Booking, Service, ServiceKind, ServiceVehiclePrice
from bookings.notifications import booking_calendar
from bookings.pricing import quote
from bookings.selectors import nearest_slots, service_locations, service_slots
from bookings.services import (
    booking_cancel,
    booking_reschedule,
    customer_change_deadline,
    customer_may_change,
    guest_booking_create,
)
from fleet.models import Car
from fleet.selectors import bookable_cars, cars_free_between

BAD_REQUEST, CONFLICT = 400, 409


def render_at(
    request: HttpRequest,
    template: str,
    context: dict,
    *,
    location: Location | None = None,
    status: int = 200,
) -> HttpResponse:
    """Render with times shown on the location's wall clock."""
    if location is None:
        return render(request, template, context, status=status)
    with timezone.override(location.time_zone):
        return render(request, template, {"location": location, **context}, status=status)


def _services():
    return Service.objects.filter(is_active=True).prefetch_related(
        Prefetch("vehicle_prices", ServiceVehiclePrice.objects.order_by("price"))
    )


def _service_at(
    service_id: int, location_slug: str, *, kind: str | None = None
) -> tuple[Service, Location]:
    """The active service (of this kind) and a location that offers it; 404 for any other."""
    services = _services() if kind is None else _services().filter(kind=kind)
    service = get_object_or_404(services, pk=service_id)
    location = get_object_or_404(service_locations(service), slug=location_slug)
    return service, location


def organization_home(request: HttpRequest, organization_slug: str) -> HttpResponse:
    """An organization's landing page: its locations, its services and its fleet."""
    services = list(_services())
    return render(
        request,
        "bookings/pages/home.html",
        {
            "locations": Location.objects.order_by("name"),
            "services": [s for s in services if s.kind == ServiceKind.APPOINTMENT],
            "rents_cars": any(s.kind == ServiceKind.RENTAL for s in services),
            "cars": bookable_cars()[:12],
        },
    )


def service_detail(request: HttpRequest, organization_slug: str, service_id: int) -> HttpResponse:
    service = get_object_or_404(_services(), pk=service_id, kind=ServiceKind.APPOINTMENT)
    return render(
        request,
        "bookings/pages/service.html",
        {"service": service, "locations": service_locations(service)},
    )


def _month_grid(month: date, free_days: set[date]) -> list[list[dict]]:
    """Weeks of the month, Monday first: each day with whether it has free slots."""
    return [
        [
            {"day": day, "in_month": day.month == month.month, "free": day in free_days}
            for day in week
        ]
        for week in Calendar().monthdatescalendar(month.year, month.month)
    ]


def service_calendar(
    request: HttpRequest, organization_slug: str, service_id: int, location_slug: str
) -> HttpResponse:
    """A month of days, those with free slots as links: the date picker."""
    service, location = _service_at(service_id, location_slug, kind=ServiceKind.APPOINTMENT)
    today = timezone.localdate(timezone=location.time_zone)
    last_day = (timezone.now() + timedelta(days=service.maximum_advance_days)).astimezone(
        location.time_zone
    )
    last_day = last_day.date()
    try:
        month = date.fromisoformat(request.GET.get("month", "") + "-01")
    except ValueError:
        month = today.replace(day=1)
    month = min(max(month, today.replace(day=1)), last_day.replace(day=1))
    month_end = (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    slots = service_slots(
        service=service,
        location=location,
        date_from=max(month, today),
        date_to=min(month_end, last_day),
    )
    free_days = {slot.starts_at.astimezone(location.time_zone).date() for slot in slots}
    previous_month = (month - timedelta(days=1)).replace(day=1)
    next_month = month_end + timedelta(days=1)
    return render_at(
        request,
        "bookings/pages/calendar.html",
        {
            "service": service,
            "month": month,
            "weeks": _month_grid(month, free_days),
            "previous_month": previous_month if previous_month >= today.replace(day=1) else None,
            "next_month": next_month if next_month <= last_day else None,
        },
        location=location,
    )


def service_day(
    request: HttpRequest, organization_slug: str, service_id: int, location_slug: str, day: date
) -> HttpResponse:
    """The free start times of one day."""
    service, location = _service_at(service_id, location_slug, kind=ServiceKind.APPOINTMENT)
    slots = service_slots(service=service, location=location, date_from=day, date_to=day)
    return render_at(
        request,
        "bookings/pages/day.html",
        {
            "service": service,
            "day": day,
            "slots": slots,
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
        },
        location=location,
    )


class _Booking:
    """What the booking steps carry: the chosen service, place, times and car."""

    def __init__(self, service: Service, location: Location, choice: dict) -> None:
        self.service, self.location = service, location
        self.starts_at = choice["starts_at"]
        self.car: Car | None = None
        if service.kind == ServiceKind.RENTAL:
            self.car = get_object_or_404(
                bookable_cars(), pk=choice["car"], resource__location=location
            )
            self.ends_at = choice["ends_at"]
        else:
            self.ends_at = self.starts_at + timedelta(minutes=service.duration_minutes)

    @property
    def resource(self):
        return self.car.resource if self.car else None

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
        return fields


def _alternatives(chosen: _Booking) -> dict:
    """What to offer when the chosen time or car was taken: the nearest free slots, or the
    other cars free for the same period."""
    if chosen.car is None:
        return {
            "slots": nearest_slots(
                service=chosen.service, location=chosen.location, around=chosen.starts_at
            )
        }
    cars = cars_free_between(
        bookable_cars().filter(
            resource__location=chosen.location, resource__services=chosen.service
        ),
        chosen.starts_at,
        chosen.ends_at,
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
            "bookings/pages/choice_invalid.html",
            {"service": service, "errors": choice.errors},
            location=location,
            status=BAD_REQUEST,
        )
    chosen = _Booking(service, location, choice.cleaned_data)
    asks_vehicle_type = service.kind == ServiceKind.APPOINTMENT and bool(
        service.vehicle_prices.all()
    )
    context = {"service": service, "chosen": chosen}
    step = request.POST.get("step", "details")
    if request.method == "GET" or step == "edit":
        details = BookingDetailsForm(
            initial=request.POST if step == "edit" else None, asks_vehicle_type=asks_vehicle_type
        )
        return render_at(
            request, "bookings/pages/details.html", {**context, "form": details}, location=location
        )

    details = BookingDetailsForm(request.POST, asks_vehicle_type=asks_vehicle_type)
    if not details.is_valid():
        return render_at(
            request,
            "bookings/pages/details.html",
            {**context, "form": details},
            location=location,
            status=BAD_REQUEST,
        )
    vehicle_type = details.cleaned_data.get("vehicle_type", "")
    if step != "confirm":
        return render_at(
            request,
            "bookings/pages/review.html",
            {
                **context,
                "form": details,
                "price": chosen.price(vehicle_type),
                "submission": uuid.uuid4().hex,
            },
            location=location,
        )
    submission = choice.cleaned_data["submission"]
    if submission and (done := Booking.objects.filter(submission_key=submission).first()):
        return _confirmed_redirect(done)  # the same form, posted again
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
            submission_key=submission,
        )
    except IntegrityError:
        # The same form posted twice at once: the other post booked it.
        done = Booking.objects.filter(submission_key=submission).first() if submission else None
        if done is None:
            raise
        return _confirmed_redirect(done)
    except SlotUnavailable as refused:
        return render_at(
            request,
            "bookings/pages/taken.html",
            {**context, "form": details, "message": refused.message, **_alternatives(chosen)},
            location=location,
            status=CONFLICT,
        )
    except InvalidBookingRequest as refused:
        return render_at(
            request,
            "bookings/pages/choice_invalid.html",
            {**context, "errors": {"__all__": [refused.message]}},
            location=location,
            status=BAD_REQUEST,
        )
    return _confirmed_redirect(booking)


def _confirmed_redirect(booking: Booking) -> HttpResponse:
    return redirect(
        "pages:booking-confirmed",
        organization_slug=booking.organization.slug,
        token=manage_token(booking),
    )


def _booking_or_refusal(request: HttpRequest, token: str) -> Booking | HttpResponse:
    try:
        return booking_for_manage_token(token, organization=request.organization)
    except ManageLinkRefused as refused:
        return render(
            request, "bookings/pages/link_refused.html", {"message": refused.message}, status=404
        )


def booking_confirmed(request: HttpRequest, organization_slug: str, token: str) -> HttpResponse:
    """Where the last step lands: the confirmation code and what happens next."""
    booking = _booking_or_refusal(request, token)
    if isinstance(booking, HttpResponse):
        return booking
    return render_at(
        request,
        "bookings/pages/confirmed.html",
        {"booking": booking, "token": token},
        location=booking.location,
    )


def booking_calendar_file(request: HttpRequest, organization_slug: str, token: str) -> HttpResponse:
    """The booking as an .ics file, for the "add to calendar" link."""
    booking = _booking_or_refusal(request, token)
    if isinstance(booking, HttpResponse):
        return booking
    response = HttpResponse(booking_calendar(booking), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="booking-{booking.code}.ics"'
    return response


def _manage_context(booking: Booking, token: str) -> dict:
    return {
        "booking": booking,
        "token": token,
        "may_change": customer_may_change(booking),
        "deadline": customer_change_deadline(booking),
    }


@require_http_methods(["GET", "POST"])
def booking_manage(request: HttpRequest, organization_slug: str, token: str) -> HttpResponse:
    """The booking as its customer sees it, with cancelling (and a link to reschedule)."""
    booking = _booking_or_refusal(request, token)
    if isinstance(booking, HttpResponse):
        return booking
    context = _manage_context(booking, token)
    if request.method == "GET":
        form = CancelForm(initial={"version": booking.version})
        return render_at(
            request,
            "bookings/pages/manage.html",
            {**context, "form": form},
            location=booking.location,
        )
    form = CancelForm(request.POST)
    if not form.is_valid():
        return render_at(
            request,
            "bookings/pages/manage.html",
            {**context, "form": form},
            location=booking.location,
            status=BAD_REQUEST,
        )
    try:
        booking_cancel(
            actor=None,
            booking=booking,
            expected_version=form.cleaned_data["version"],
            reason=form.reason_text(),
            by_staff=False,
        )
    except DomainError as refused:
        return render_at(
            request,
            "bookings/pages/manage.html",
            {**context, "form": form, "refusal": refused.message},
            location=booking.location,
            status=CONFLICT,
        )
    messages.success(request, "Your booking is cancelled. We have sent you an email.")
    return redirect("pages:booking-manage", organization_slug=organization_slug, token=token)


@require_http_methods(["GET", "POST"])
def booking_reschedule_page(
    request: HttpRequest, organization_slug: str, token: str
) -> HttpResponse:
    """Move the booking: another free slot of a chosen day, or, for a rental, other dates."""
    booking = _booking_or_refusal(request, token)
    if isinstance(booking, HttpResponse):
        return booking
    location, zone = booking.location, booking.location.time_zone
    is_rental = booking.service.kind == ServiceKind.RENTAL
    context = _manage_context(booking, token)
    if not context["may_change"]:
        return render_at(
            request, "bookings/pages/manage.html", context, location=location, status=CONFLICT
        )
    status = 200
    if request.method == "POST":
        form = (
            RentalRescheduleForm(request.POST, zone=zone)
            if is_rental
            else RescheduleForm(request.POST)
        )
        if form.is_valid():
            starts_at, ends_at = form.new_period()
            try:
                booking_reschedule(
                    actor=None,
                    booking=booking,
                    expected_version=form.cleaned_data["version"],
                    starts_at=starts_at,
                    ends_at=ends_at if is_rental else None,
                    by_staff=False,
                )
            except DomainError as refused:
                context["refusal"] = refused.message
                status = CONFLICT
            else:
                messages.success(request, "Your booking has moved. We have sent you an email.")
                return redirect(
                    "pages:booking-manage", organization_slug=organization_slug, token=token
                )
        else:
            status = BAD_REQUEST
        context["form"] = form
    if is_rental:
        context.setdefault(
            "form",
            RentalRescheduleForm(
                initial={
                    **RentalRescheduleForm.initial_for(booking.starts_at, booking.ends_at, zone),
                    "version": booking.version,
                },
                zone=zone,
            ),
        )
    else:
        day = _day_param(request, default=booking.starts_at.astimezone(zone).date())
        context.update(
            day=day,
            previous_day=day - timedelta(days=1),
            next_day=day + timedelta(days=1),
            slots=service_slots(
                service=booking.service, location=location, date_from=day, date_to=day
            ),
        )
    return render_at(
        request, "bookings/pages/reschedule.html", context, location=location, status=status
    )


def _day_param(request: HttpRequest, *, default: date) -> date:
    try:
        day = date.fromisoformat(request.GET.get("day", ""))
    except ValueError:
        return default
    return day if FIRST_DAY <= day <= LAST_DAY else default


@require_http_methods(["GET", "POST"])
def booking_lookup(request: HttpRequest, organization_slug: str) -> HttpResponse:
    """The way back to a booking without its link: the confirmation code and the email."""
    if request.method == "GET":
        return render(request, "bookings/pages/lookup.html", {"form": BookingLookupForm()})
    form = BookingLookupForm(request.POST)
    if form.is_valid():
        booking = Booking.objects.filter(
            code=form.cleaned_data["code"], customer__email=form.cleaned_data["email"].lower()
        ).first()
        if booking is not None:
            return redirect(
                "pages:booking-manage",
                organization_slug=organization_slug,
                token=manage_token(booking),
            )
        form.add_error(None, "No booking matches this confirmation code and email.")
    return render(request, "bookings/pages/lookup.html", {"form": form}, status=BAD_REQUEST)

"""Managing a booking without an account: through the signed link of its emails, or by its
confirmation code and email. Cancel and reschedule go through the engine's services, which
hold the customer to the organization's cut-off."""

from datetime import date, datetime, timedelta

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from bookings.manage_links import ManageLinkRefused, booking_for_manage_token, manage_token
from bookings.models import Booking, ServiceKind
from bookings.notifications import booking_calendar
from bookings.pages.forms import (
    BookingLookupForm,
    CancelForm,
    RentalRescheduleForm,
    RescheduleForm,
)
from bookings.pages.rendering import BAD_REQUEST, CONFLICT, render_at, slot_times, too_many_attempts
from bookings.policy import customer_change_deadline, customer_may_change
from bookings.pricing import Quote, quote
from bookings.selectors import booking_by_code_and_email, service_slots
from bookings.services import booking_cancel, booking_reschedule
from config.api.errors import DomainError
from config.api.fields import FIRST_DAY, LAST_DAY
from config.api.throttling import page_wait


def _booking_or_refusal(request: HttpRequest, token: str) -> Booking | HttpResponse:
    try:
        return booking_for_manage_token(token, organization=request.organization)
    except ManageLinkRefused as refused:
        return render(request, "pages/link_refused.html", {"message": refused.message}, status=404)


def booking_confirmed(request: HttpRequest, organization_slug: str, token: str) -> HttpResponse:
    """Where the last step lands: the confirmation code and what happens next."""
    booking = _booking_or_refusal(request, token)
    if isinstance(booking, HttpResponse):
        return booking
    return render_at(
        request,
        "pages/confirmed.html",
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
            "pages/manage.html",
            {**context, "form": form},
            location=booking.location,
        )
    form = CancelForm(request.POST)
    if not form.is_valid():
        return render_at(
            request,
            "pages/manage.html",
            {**context, "form": form},
            location=booking.location,
            status=BAD_REQUEST,
        )
    can_cancel = context["may_change"] and form.cleaned_data["version"] == booking.version
    if can_cancel and request.POST.get("step") != "confirm":
        # One more screen before anything happens: what is cancelled, and a way back. What
        # cannot be done (past the cut-off, a page out of date) is refused at once instead.
        return render_at(
            request,
            "pages/cancel_confirm.html",
            {**context, "form": form},
            location=booking.location,
        )
    try:
        booking_cancel(
            actor=None,
            booking=booking,
            expected_version=form.cleaned_data["version"],
            reason=form.reason_text(),
        )
    except DomainError as refused:
        return render_at(
            request,
            "pages/manage.html",
            {**context, "form": form, "refusal": refused.message},
            location=booking.location,
            status=refused.status_code,
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
        return render_at(request, "pages/manage.html", context, location=location, status=CONFLICT)
    status = 200
    if request.method == "POST":
        form = (
            RentalRescheduleForm(request.POST, zone=zone)
            if is_rental
            else RescheduleForm(request.POST)
        )
        if form.is_valid():
            starts_at, ends_at = form.new_period()
            new_ends_at = ends_at or starts_at + timedelta(minutes=booking.service.duration_minutes)
            new_price = _price_after_move(booking, starts_at, new_ends_at)
            if request.POST.get("step") != "confirm" or request.POST.get("price_seen") != str(
                new_price.total
            ):
                # Confirm first, with the old and the new price; again if the price changed
                # since the customer saw it.
                return render_at(
                    request,
                    "pages/reschedule_confirm.html",
                    {
                        **context,
                        "form": form,
                        "new_starts_at": starts_at,
                        "new_ends_at": new_ends_at,
                        "new_price": new_price,
                        "price_changes": new_price.total != booking.total_price,
                        "price_moved": request.POST.get("step") == "confirm",
                    },
                    location=location,
                )
            try:
                booking_reschedule(
                    actor=None,
                    booking=booking,
                    expected_version=form.cleaned_data["version"],
                    starts_at=starts_at,
                    ends_at=ends_at if is_rental else None,
                )
            except DomainError as refused:
                context["refusal"] = refused.message
                context["refusal_code"] = refused.code
                status = refused.status_code
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
            slots=slot_times(
                service_slots(
                    service=booking.service, location=location, date_from=day, date_to=day
                ),
                zone,
            ),
        )
    return render_at(request, "pages/reschedule.html", context, location=location, status=status)


def _price_after_move(booking: Booking, starts_at: datetime, ends_at: datetime) -> Quote:
    """What the booking would cost at the new time: a longer rental costs more."""
    return quote(
        service=booking.service,
        location=booking.location,
        starts_at=starts_at,
        ends_at=ends_at,
        resource=booking.resource,
        vehicle_type=booking.vehicle_type,
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
        return render(request, "pages/lookup.html", {"form": BookingLookupForm()})
    if (wait := page_wait(request, "page_lookup")) is not None:
        return too_many_attempts(
            request, wait, "This address has tried too many confirmation codes in a short time."
        )
    form = BookingLookupForm(request.POST)
    if form.is_valid():
        booking = booking_by_code_and_email(form.cleaned_data["code"], form.cleaned_data["email"])
        if booking is not None:
            return redirect(
                "pages:booking-manage",
                organization_slug=organization_slug,
                token=manage_token(booking),
            )
        form.add_error(None, "No booking matches this confirmation code and email.")
    return render(request, "pages/lookup.html", {"form": form}, status=BAD_REQUEST)

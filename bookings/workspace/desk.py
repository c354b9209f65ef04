"""The desk: book for a customer, move a booking, move it along its lifecycle, block time.

Each view reaches only what accounts.roles lets the user reach (another tenant's booking or
location answers 404, like a missing one), parses the form, and calls one engine service. The
engine decides: a taken slot is refused by the exclusion constraint and answered with the
nearest free times; a stale version says someone changed the booking and shows it as it is now.
"""

import uuid
from datetime import datetime
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import Customer, Location
from accounts.roles import permitted
from accounts.selectors import customers_matching
from bookings.errors import StaleVersion
from bookings.models import Booking, Payment, ServiceKind
from bookings.policy import ADD_BOOKING, CHANGE_BOOKING, STATUS_MOVES, booking_notice
from bookings.selectors import access_booking, nearest_slots
from bookings.services import (
    STAFF_MOVES,
    booking_cancel,
    booking_reschedule,
    desk_booking_create,
    payment_record,
    payment_refund,
    time_block_create,
)
from bookings.services.payments import net_paid
from bookings.workspace.forms import (
    BlockForm,
    CancelForm,
    DeskBookingForm,
    MoveForm,
    PaymentForm,
    StatusForm,
    default_block_period,
)
from config.api.errors import DomainError
from config.api.fields import FIRST_DAY, LAST_DAY
from fleet.models import Resource

VIEW_LOCATION = "accounts.view_location"
TAKE_PAYMENT = "bookings.add_payment"
GIVE_REFUND = "bookings.refund_payment"
VIEW_PAYMENT = "bookings.view_payment"
VIEW_CUSTOMER = "accounts.view_customer"
ADD_BLOCK = "bookings.add_maintenance"
BAD_REQUEST = 400


def calendar_url(location: Location, instant: datetime) -> str:
    """The calendar's day view of the location on the local day of `instant`."""
    day = instant.astimezone(location.time_zone).date()
    query = urlencode({"location": location.pk, "date": day.isoformat(), "view": "day"})
    return f"{reverse('admin:workspace_calendar')}?{query}"


def booking_page_url(booking: Booking) -> str:
    return reverse("admin:bookings_booking_change", args=[booking.pk])


def _page(
    request: HttpRequest, template: str, context: dict, *, location: Location, status: int = 200
) -> TemplateResponse:
    """A desk page, rendered now under the location's zone: every time on it is that wall
    clock's, as staff and customers there read it."""
    response = TemplateResponse(
        request,
        f"admin/workspace/{template}",
        {**admin.site.each_context(request), **context},
        status=status,
    )
    with timezone.override(location.time_zone):
        return response.render()


def _id(raw: str | None) -> int | None:
    """An id from a query string: ASCII digits only ("²" and "1.5" are not ids)."""
    return int(raw) if raw and raw.isascii() and raw.isdigit() and len(raw) < 19 else None


def _desk_location(request: HttpRequest, perm: str) -> Location:
    """The location of the request (?location=, else the resource's, else the first one the
    user may work at), if the role table grants `perm` there; 404 otherwise."""
    locations = permitted(request.user, VIEW_LOCATION, Location.objects.order_by("name", "pk"))
    location_id = _id(request.GET.get("location") or request.POST.get("location"))
    if location_id is None and (resource_id := _id(request.GET.get("resource"))):
        location_id = (
            Resource.objects.filter(pk=resource_id).values_list("location_id", flat=True).first()
        )
    location = locations.filter(pk=location_id).first() if location_id else locations.first()
    if location is None or not request.user.has_perm(perm, location):
        raise Http404("No such location.")
    return location


def _start_from_query(request: HttpRequest, location: Location) -> datetime:
    """The instant a calendar cell links with (?starts_at=ISO with offset); else the start of
    the current hour on the location's clock."""
    try:
        instant = datetime.fromisoformat(request.GET.get("starts_at", ""))
    except ValueError:
        instant = None
    if instant is None or timezone.is_naive(instant) or not FIRST_DAY <= instant.date() <= LAST_DAY:
        instant = timezone.now()
        local = instant.astimezone(location.time_zone)
        return local.replace(minute=0, second=0, microsecond=0)
    return instant.astimezone(location.time_zone)


def book(request: HttpRequest) -> HttpResponse:
    """Book a walk-in or a phone customer through the engine (source "staff")."""
    location = _desk_location(request, ADD_BOOKING)
    # The organization's customers the user may see; the picker offers only these.
    user_customers = permitted(
        request.user, VIEW_CUSTOMER, Customer.objects.filter(organization=location.organization)
    )
    query = request.GET.get("q", "").replace("\x00", "").strip()[:100]
    picked = _id(request.GET.get("customer"))
    matches = user_customers.none()
    if query:
        matches = customers_matching(user_customers, query)[:20]
    if request.method == "POST":
        form = DeskBookingForm(request.POST, location=location, customers=user_customers)
    else:
        start = _start_from_query(request, location)
        offered = user_customers.filter(pk__in=[picked, *(c.pk for c in matches)])
        form = DeskBookingForm(
            location=location,
            customers=offered,
            initial={
                "customer": picked,
                "resource": _id(request.GET.get("resource")),
                "start_date": start.date(),
                "start_time": start.time().replace(second=0, microsecond=0),
                "submission": uuid.uuid4().hex,
            },
        )
        matches = list(offered) if picked and not query else list(matches)
    context = {
        "title": f"Book at {location.name}",
        "location": location,
        "form": form,
        "query": query,
        "matches": matches if request.method == "GET" else None,
    }
    if request.method == "GET":
        return _page(request, "book.html", context, location=location)
    if not form.is_valid():
        return _page(request, "book.html", context, location=location, status=BAD_REQUEST)
    data = form.cleaned_data
    try:
        booking = desk_booking_create(
            actor=request.user,
            organization=location.organization,
            customer=data["customer"],
            full_name=data["full_name"].strip(),
            phone=str(data["phone"] or ""),
            email=data["email"],
            submission_key=data["submission"],
            service=data["service"],
            location=location,
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            resource=data["resource"],
            vehicle_type=data["vehicle_type"],
            notes=data["notes"],
            outside_hours_reason=data["outside_hours_reason"].strip(),
        )
    except DomainError as refused:
        context.update(refusal=refused.message, **_alternatives(request, data, location))
        return _page(request, "book.html", context, location=location, status=refused.status_code)
    messages.success(
        request,
        f"Booked {booking.code}: {booking.customer.full_name}, {booking.service.name} on "
        f"{booking.resource.name}.",
    )
    return redirect(calendar_url(location, booking.starts_at))


def _alternatives(request: HttpRequest, data: dict, location: Location) -> dict:
    """The nearest free times, when a taken or closed time was asked for."""
    service = data["service"]
    if service.kind != ServiceKind.APPOINTMENT or data["starts_at"] is None:
        return {}
    slots = nearest_slots(
        service=service,
        location=location,
        around=data["starts_at"],
        notice=booking_notice(service, at_the_desk=True),  # only staff reach the desk
    )
    return {"alternatives": [slot.starts_at.astimezone(location.time_zone) for slot in slots]}


def move(request: HttpRequest, code: str) -> HttpResponse:
    """Move a booking to another time and/or resource, with the version check."""
    booking = access_booking(request.user, code, CHANGE_BOOKING)
    context = {"title": f"Move {booking.code}", "booking": booking}
    if request.method != "POST":
        context["form"] = MoveForm(initial=MoveForm.initial_for(booking), booking=booking)
        return _page(request, "move.html", context, location=booking.location)
    form = MoveForm(request.POST, booking=booking)
    context["form"] = form
    if not form.is_valid():
        return _page(request, "move.html", context, location=booking.location, status=BAD_REQUEST)
    data = form.cleaned_data
    try:
        moved = booking_reschedule(
            actor=request.user,
            booking=booking,
            expected_version=data["version"],
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            resource=data["resource"],
        )
    except StaleVersion as refused:
        current = access_booking(request.user, code, CHANGE_BOOKING)
        context.update(
            booking=current,
            refusal=f"{refused.message} It now reads as below.",
            form=MoveForm(initial=MoveForm.initial_for(current), booking=current),
        )
        return _page(
            request, "move.html", context, location=current.location, status=refused.status_code
        )
    except DomainError as refused:
        context["refusal"] = refused.message
        return _page(
            request, "move.html", context, location=booking.location, status=refused.status_code
        )
    messages.success(request, f"Moved {moved.code}; the customer gets an email.")
    return redirect(calendar_url(moved.location, moved.starts_at))


@require_POST
def status(request: HttpRequest, code: str) -> HttpResponse:
    """A lifecycle button of the booking's page: confirm, arrived, complete, no-show, cancel."""
    booking = access_booking(request.user, code, CHANGE_BOOKING)
    name = request.POST.get("move", "")
    try:
        if name == "cancel":
            form = CancelForm(request.POST)
            if not form.is_valid():
                messages.error(request, "Say why the booking is cancelled.")
                return redirect(booking_page_url(booking))
            booking_cancel(
                actor=request.user,
                booking=booking,
                expected_version=form.cleaned_data["version"],
                reason=form.cleaned_data["reason"],
            )
        else:
            form = StatusForm(request.POST)
            if not form.is_valid() or name not in STAFF_MOVES:
                messages.error(request, "Unknown action.")
                return redirect(booking_page_url(booking))
            service = STAFF_MOVES[name][1]
            service(
                actor=request.user, booking=booking, expected_version=form.cleaned_data["version"]
            )
    except DomainError as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, "Done.")
    return redirect(booking_page_url(booking))


def legal_moves(booking: Booking) -> list[str]:
    """The lifecycle buttons to offer: exactly the moves the engine would accept now."""
    allowed = STATUS_MOVES[booking.status]
    return [name for name, (to_status, _service) in STAFF_MOVES.items() if to_status in allowed]


def block(request: HttpRequest) -> HttpResponse:
    """Block a resource's time (a lunch, a day off, a bay out of order), once or weekly."""
    location = _desk_location(request, VIEW_LOCATION)
    resources = permitted(request.user, ADD_BLOCK, Resource.objects.filter(location=location))
    if not resources.exists():
        raise Http404("No resource here whose time you may block.")
    zone = location.time_zone
    if request.method != "POST":
        start = _start_from_query(request, location)
        form = BlockForm(
            resources=resources,
            zone=zone,
            initial={
                "resource": _id(request.GET.get("resource")),
                **default_block_period(start.date(), start.time().replace(second=0)),
            },
        )
    else:
        form = BlockForm(request.POST, resources=resources, zone=zone)
    context = {"title": "Block time", "location": location, "form": form}
    if request.method != "POST":
        return _page(request, "block.html", context, location=location)
    if not form.is_valid():
        return _page(request, "block.html", context, location=location, status=BAD_REQUEST)
    data = form.cleaned_data
    try:
        blocks = time_block_create(
            actor=request.user,
            resource=data["resource"],
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            reason=data["reason"],
            kind=data["kind"],
            weeks=data["weeks"],
        )
    except DomainError as refused:
        context["refusal"] = refused.message
        return _page(request, "block.html", context, location=location, status=refused.status_code)
    messages.success(
        request, f"Blocked {data['resource']}: {data['reason']} ({len(blocks)} time(s))."
    )
    return redirect(calendar_url(location, blocks[0].starts_at))


def pay(request: HttpRequest, code: str) -> HttpResponse:
    """Take a payment or a deposit, or give money back; the payment status follows the rows."""
    booking = access_booking(request.user, code, TAKE_PAYMENT)
    may_refund = request.user.has_perm(GIVE_REFUND, booking)
    if request.method == "POST":
        form = PaymentForm(request.POST, may_refund=may_refund)
    else:
        form = PaymentForm(initial={"submission": uuid.uuid4().hex}, may_refund=may_refund)
    context = {"title": f"Payment for {booking.code}", "booking": booking, "form": form}
    status_code = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                if data["kind"] == "refund":
                    payment = payment_refund(
                        actor=request.user,
                        booking=booking,
                        amount=data["amount"],
                        method=data["method"],
                        note=data["note"],
                        submission_key=data["submission"],
                    )
                else:
                    payment = payment_record(
                        actor=request.user,
                        booking=booking,
                        amount=data["amount"],
                        method=data["method"],
                        is_deposit=data["kind"] == "deposit",
                        note=data["note"],
                        submission_key=data["submission"],
                    )
            except DomainError as refused:
                context["refusal"], status_code = refused.message, refused.status_code
            else:
                messages.success(
                    request,
                    f"Recorded: {payment.get_kind_display().lower()} of {payment.amount} "
                    f"{payment.currency} ({payment.get_method_display().lower()}).",
                )
                return redirect(booking_page_url(booking))
        else:
            status_code = BAD_REQUEST
    booking.refresh_from_db()
    context.update(
        net_paid=net_paid(booking),
        payments=permitted(request.user, VIEW_PAYMENT, Payment.objects.filter(booking=booking))
        .select_related("recorded_by")
        .order_by("created_at", "pk"),
    )
    return _page(request, "pay.html", context, location=booking.location, status=status_code)

"""Services, opening hours, closures, bookings and their outbox emails in the admin."""

import re
from collections.abc import Callable

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.utils.html import format_html

from accounts import roles
from accounts.admin_site import PermittedRelatedListFilter, TenantModelAdmin, view_permission
from accounts.audit import audit_record
from accounts.models import AuditAction, Customer
from accounts.selectors import customer_search
from bookings import notifications
from bookings.models import (
    Booking,
    BookingStatus,
    Closure,
    EmailStatus,
    OpeningHours,
    OutboxEmail,
    Service,
    ServiceKind,
    ServiceVehiclePrice,
)
from bookings.policy import ADD_BOOKING, STATUS_MOVES, UPCOMING_STATUSES
from bookings.selectors import bookings_during_closure
from bookings.selectors.catalogue import service_kinds_of
from bookings.services import (
    booking_cancel,
    booking_complete,
    booking_confirm,
    booking_mark_no_show,
    booking_start,
)
from bookings.workspace.desk import legal_moves
from bookings.workspace.forms import CancelForm
from bookings.workspace.timeline import timeline
from config.api.errors import DomainError

MANAGE_LINK_TOKEN = re.compile(r"/manage/[^/\s]+/")


class ServiceVehiclePriceInline(admin.TabularInline):
    model = ServiceVehiclePrice
    extra = 0
    fields = ["vehicle_type", "price"]


@admin.register(Service)
class ServiceAdmin(TenantModelAdmin):
    list_display = ["name", "kind", "duration_minutes", "price", "organization", "is_active"]
    list_filter = ["kind", "is_active", ("organization", PermittedRelatedListFilter)]
    search_fields = ["name", "description"]
    filter_horizontal = ["resources"]
    inlines = [ServiceVehiclePriceInline]
    fieldsets = [
        (None, {"fields": ["organization", "name", "description", "kind", "is_active"]}),
        (
            "Time",
            {
                "fields": [
                    "duration_minutes",
                    "buffer_before_minutes",
                    "buffer_after_minutes",
                    "slot_granularity_minutes",
                    "minimum_notice_minutes",
                    "maximum_advance_days",
                ]
            },
        ),
        ("Price and resources", {"fields": ["price", "resources"]}),
    ]

    def get_inlines(self, request, obj):
        # Vehicle prices replace an appointment's price (a wash per vehicle type); a rental is
        # priced from the car's daily rate. So they follow the service's kind, and on a new
        # service, what the business offers (a rentals-only business never sees them).
        if obj is not None:
            appointments = obj.kind == ServiceKind.APPOINTMENT
        else:
            offered = service_kinds_of(request.user)
            appointments = not offered or ServiceKind.APPOINTMENT in offered
        return super().get_inlines(request, obj) if appointments else []

    def save_formset(self, request, form, formset, change):
        # Vehicle prices belong to the service's organization, like the service itself.
        for price in formset.save(commit=False):
            price.organization_id = form.instance.organization_id
            price.save()
        for deleted in formset.deleted_objects:
            deleted.delete()


@admin.register(OpeningHours)
class OpeningHoursAdmin(TenantModelAdmin):
    list_display = ["location", "weekday", "opens_at", "closes_at"]
    list_filter = [("location", PermittedRelatedListFilter), "weekday"]
    search_fields = ["location__name"]
    list_select_related = ["location"]


@admin.register(Closure)
class ClosureAdmin(TenantModelAdmin):
    list_display = ["reason", "location", "first_day", "last_day", "starts_at", "ends_at"]
    list_filter = [("location", PermittedRelatedListFilter), "first_day"]
    search_fields = ["reason", "location__name"]
    list_select_related = ["location"]
    date_hierarchy = "first_day"

    def save_model(self, request, obj: Closure, form, change: bool) -> None:
        """Close, then warn about the bookings inside: they stay until staff move or cancel
        them, since only staff can tell each customer."""
        super().save_model(request, obj, form, change)
        if clashes := bookings_during_closure(obj):
            self.message_user(
                request,
                "These bookings fall inside the closure; move or cancel them: "
                + ", ".join(
                    f"{b.code} ({b.starts_at.astimezone(b.location.time_zone):%a %d %b %H:%M}, "
                    f"{b.customer.full_name})"
                    for b in clashes
                ),
                messages.WARNING,
            )


class OutboxEmailInline(admin.TabularInline):
    """The emails about the booking, read only; each links to its own page."""

    model = OutboxEmail
    extra = 0
    can_delete = False
    show_change_link = True
    fields = readonly_fields = ["kind", "status", "created_at", "sent_at"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        # The same rows the email list would show this user.
        return roles.permitted(
            request.user, view_permission(OutboxEmail), super().get_queryset(request)
        )


def _lifecycle_action(service: Callable, description: str, **extra):
    """An admin action that moves each selected booking through a lifecycle service."""

    @admin.action(description=description, permissions=["change"])
    def action(modeladmin: "BookingAdmin", request: HttpRequest, queryset: QuerySet) -> None:
        done, refused = 0, []
        for booking in queryset:
            if not request.user.has_perm(modeladmin._perm("change"), booking):
                refused.append(f"{booking.code}: not yours to change")
                continue
            try:
                service(
                    actor=request.user, booking=booking, expected_version=booking.version, **extra
                )
                done += 1
            except DomainError as error:
                refused.append(f"{booking.code}: {error.message}")
        if done:
            modeladmin.message_user(request, f"{description}: {done} booking(s).", messages.SUCCESS)
        if refused:
            modeladmin.message_user(request, "Not changed: " + "; ".join(refused), messages.WARNING)

    action.__name__ = service.__name__
    return action


@admin.register(Booking)
class BookingAdmin(TenantModelAdmin):
    list_display = [
        "code",
        "local_start",
        "customer",
        "service",
        "resource",
        "location",
        "status",
        "payment_status",
        "total_price",
        "currency",
    ]
    list_filter = [
        ("starts_at", admin.DateFieldListFilter),
        ("location", PermittedRelatedListFilter),
        ("resource", PermittedRelatedListFilter),
        "status",
        "payment_status",
        "source",
    ]
    # The customer's email and phone are encrypted: get_search_results finds them whole.
    search_fields = ["code", "customer__full_name"]
    search_help_text = "A code, a customer's name, whole email address or phone number."
    list_select_related = ["customer", "service", "resource", "location"]
    date_hierarchy = "starts_at"
    inlines = [OutboxEmailInline]
    change_form_template = "admin/bookings/booking/change_form.html"
    # The period is shown on the location's clock (local_period) and changed only by a move.
    exclude = ["starts_at", "ends_at"]
    readonly_fields = [
        "code",
        "organization",
        "location",
        "customer",
        "service",
        "resource",
        "local_period",
        "status",
        "payment_status",
        "vehicle_type",
        "total_price",
        "currency",
        "version",
        "source",
        "created_by",
        "notes",
        "cancellation_reason",
        "created_at",
        "updated_at",
    ]
    actions = [
        _lifecycle_action(booking_confirm, "Confirm"),
        _lifecycle_action(booking_start, "Start"),
        _lifecycle_action(booking_complete, "Complete"),
        _lifecycle_action(booking_mark_no_show, "Mark as no-show"),
        _lifecycle_action(booking_cancel, "Cancel", reason="Cancelled by staff"),
    ]

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if search_term.strip():
            results |= queryset.filter(customer_search(search_term, path="customer__"))
        return results, may_have_duplicates

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(ADD_BOOKING)

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None):
        """Staff book through the desk's form, which calls the engine like every booking."""
        return redirect("admin:workspace_book")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # cancelled bookings stay; nothing is hard-deleted

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The booking's page: its details on the location's clock, the timeline in words, and
        the desk's actions that the engine would accept now. Nothing is saved from this page:
        a posted form would write back a copy read before a desk action changed the booking."""
        if request.method == "POST":
            return HttpResponseNotAllowed(["GET"])
        booking = self.get_object(request, object_id)
        extra = {}
        if booking is not None:
            may_change = request.user.has_perm(self._perm("change"), booking)
            extra = {
                "booking": booking,
                "timeline": timeline(booking),
                "moves": legal_moves(booking) if may_change else [],
                "may_change": may_change,
                "may_cancel": may_change
                and BookingStatus.CANCELLED in STATUS_MOVES[booking.status],
                "may_move": may_change and booking.status in UPCOMING_STATUSES,
                "cancel_form": CancelForm(initial={"version": booking.version}),
                # Nothing on this page is edited in place: every change is a desk action.
                "show_save": False,
                "show_save_and_continue": False,
                "show_save_and_add_another": False,
                "show_delete": False,
            }
        response = super().change_view(
            request, object_id, form_url, {**extra, **(extra_context or {})}
        )
        if booking is not None and response.status_code == 200:
            # The page shows the customer's contact details.
            audit_record(
                actor=request.user,
                action=AuditAction.CUSTOMER_VIEWED,
                organization_id=booking.organization_id,
                target=booking.customer,
                details={"booking": booking.code},
            )
        return response

    @admin.display(description="When (local time)")
    def local_period(self, booking: Booking) -> str:
        zone = booking.location.time_zone
        start, end = booking.starts_at.astimezone(zone), booking.ends_at.astimezone(zone)
        until = f"{end:%H:%M}" if start.date() == end.date() else f"{end:%a %d %b %Y %H:%M}"
        return f"{start:%a %d %b %Y %H:%M} to {until} ({zone})"

    @admin.display(description="Starts (local time)", ordering="starts_at")
    def local_start(self, booking: Booking) -> str:
        return f"{booking.starts_at.astimezone(booking.location.time_zone):%Y-%m-%d %H:%M}"


def _hide_links(text: str) -> str:
    """The email as staff see it: the customer's manage link would let them act as the
    customer, so its token is left out."""
    unfolded = re.sub(r"\r?\n[ \t]", "", text)  # an .ics folds long lines anywhere
    return MANAGE_LINK_TOKEN.sub("/manage/[link hidden]/", unfolded)


@admin.register(OutboxEmail)
class OutboxEmailAdmin(TenantModelAdmin):
    """The emails customers were sent or are waiting for: read only, with "Send again" for
    those that failed. They are written by bookings.notifications, never here."""

    list_display = ["kind", "booking_code", "to", "status", "attempts", "created_at", "sent_at"]
    list_filter = ["status", "kind", ("booking__location", PermittedRelatedListFilter)]
    search_fields = ["booking__code"]
    search_help_text = "A booking's code, or its customer's whole email address."
    list_select_related = ["booking"]
    fields = readonly_fields = [
        "booking",
        "kind",
        "to",
        "subject",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
        "sent_at",
        "last_error",
        "text_body",
        "calendar_text",
    ]
    actions = ["email_send_again"]

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if "@" in search_term:
            email = search_term.strip()
            results |= queryset.filter(Customer.email_is(email, path="booking__customer__"))
        return results, may_have_duplicates

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # emails are written with the booking change they are about

    def has_change_permission(self, request, obj=None) -> bool:
        # The change permission lets a user send emails again (the action); no email is edited,
        # and saving a stale copy could put a sent email back to pending.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the record of what a customer was told stays

    @admin.display(description="Booking", ordering="booking__code")
    def booking_code(self, email: OutboxEmail) -> str:
        return email.booking.code

    @admin.display(description="Text")
    def text_body(self, email: OutboxEmail) -> str:
        notifications.email_render(
            email
        )  # not sent yet: what it will say (rendered by the worker when sent)
        return format_html(
            '<pre style="white-space: pre-wrap;">{}</pre>', _hide_links(email.body_text)
        )

    @admin.display(description="Calendar (.ics)")
    def calendar_text(self, email: OutboxEmail) -> str:
        notifications.email_render(email)
        return format_html(
            '<pre style="white-space: pre-wrap;">{}</pre>', _hide_links(email.calendar)
        )

    @admin.action(description="Send again", permissions=["change"])
    def email_send_again(self, request: HttpRequest, queryset: QuerySet) -> None:
        queued, refused = 0, []
        for email in queryset.select_related("booking"):
            if not request.user.has_perm(self._perm("change"), email):
                refused.append(f"{email}: not yours to send")
            elif email.status == EmailStatus.SENT or not notifications.email_send_again(email):
                refused.append(f"{email}: already sent")
            else:
                queued += 1
        if queued:
            self.message_user(request, f"Send again: {queued} email(s) queued.", messages.SUCCESS)
        if refused:
            self.message_user(request, "Not queued: " + "; ".join(refused), messages.WARNING)

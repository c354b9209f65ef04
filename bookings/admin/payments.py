"""Payments and refunds in the admin: a read-only ledger. Money is taken at the desk
(bookings.workspace.desk, through bookings.services.payments), never typed in here."""

from django.contrib import admin
from django.http import HttpRequest

from accounts.admin_site import PermittedRelatedListFilter, TenantModelAdmin
from bookings.models import Payment


@admin.register(Payment)
class PaymentAdmin(TenantModelAdmin):
    list_display = [
        "booking_code",
        "kind",
        "method",
        "amount",
        "currency",
        "is_deposit",
        "recorded_by",
        "created_at",
    ]
    list_filter = ["kind", "method", ("booking__location", PermittedRelatedListFilter)]
    search_fields = ["booking__code", "provider_reference"]
    list_select_related = ["booking", "recorded_by"]
    date_hierarchy = "created_at"
    fields = readonly_fields = [
        "booking",
        "kind",
        "method",
        "amount",
        "currency",
        "is_deposit",
        "provider",
        "provider_reference",
        "recorded_by",
        "created_at",
        "note",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # taken at the desk, where the booking's lock and totals are checked

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a payment is never edited: a refund is a row of its own

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the record of money taken stays

    @admin.display(description="Booking", ordering="booking__code")
    def booking_code(self, payment: Payment) -> str:
        return payment.booking.code

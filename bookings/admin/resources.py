"""Maintenance windows and car reviews in the admin: both go through the engine's services,
so a window is refused over a booking and a moderated review updates the car's rating."""

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.admin_site import PermittedRelatedListFilter, TenantModelAdmin
from accounts.tenancy import ScopedModelChoiceField
from bookings.errors import SlotUnavailable
from bookings.models import CarReview, Maintenance, ReviewStatus
from bookings.services import car_review_moderate, time_block_create
from bookings.services.maintenance import bookings_in_the_way
from fleet.models import ResourceKind
from fleet.selectors import resource_kinds_of


class MaintenanceForm(forms.ModelForm):
    class Meta:
        model = Maintenance
        fields = ["organization", "resource", "kind", "starts_at", "ends_at", "reason"]
        field_classes = {"resource": ScopedModelChoiceField}

    def clean(self):
        cleaned = super().clean()
        resource, starts_at, ends_at = (
            cleaned.get(k) for k in ("resource", "starts_at", "ends_at")
        )
        if resource and starts_at and ends_at and starts_at < ends_at:
            clashes = bookings_in_the_way(resource, [(starts_at, ends_at)])
            if clashes:
                raise forms.ValidationError(
                    f"{resource} is booked during this period: "
                    + ", ".join(booking.code for booking in clashes)
                    + ". Move those bookings first."
                )
        return cleaned


@admin.register(Maintenance)
class MaintenanceAdmin(TenantModelAdmin):
    list_display = ["resource", "kind", "starts_at", "ends_at", "reason", "created_by"]
    list_filter = [("resource", PermittedRelatedListFilter), "kind", "starts_at"]
    search_fields = ["resource__name", "reason"]
    list_select_related = ["resource", "created_by"]
    date_hierarchy = "starts_at"

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = MaintenanceForm
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        # The period is held by an occupancy row; moving it means a new window.
        if obj is not None:
            return ["organization", "resource", "starts_at", "ends_at", "created_by"]
        return []

    def save_model(self, request, obj: Maintenance, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        try:
            created = time_block_create(
                actor=request.user,
                resource=obj.resource,
                starts_at=obj.starts_at,
                ends_at=obj.ends_at,
                reason=obj.reason,
                kind=obj.kind,
            )
        except SlotUnavailable as error:  # a booking arrived since the form was checked
            raise forms.ValidationError(error.message) from error
        obj.pk, obj._state.adding = created[0].pk, False


@admin.register(CarReview)
class CarReviewAdmin(TenantModelAdmin):
    list_display = ["car", "rating", "status", "customer", "created_at", "moderated_by"]
    list_filter = ["status", "rating", ("car", PermittedRelatedListFilter)]
    search_fields = ["customer__full_name", "car__make", "car__model"]  # comment: encrypted
    list_select_related = ["car", "customer", "moderated_by"]
    readonly_fields = [
        "organization",
        "booking",
        "car",
        "customer",
        "rating",
        "comment",
        "status",
        "moderated_by",
        "moderated_at",
        "created_at",
    ]
    actions = ["approve", "reject"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # reviews come from customers

    def has_module_permission(self, request: HttpRequest) -> bool:
        # Only a business with cars has car reviews in its menu (as fleet.admin.CarAdmin).
        return ResourceKind.CAR in resource_kinds_of(
            request.user
        ) and super().has_module_permission(request)

    def _moderate(self, request: HttpRequest, queryset: QuerySet, approve: bool) -> None:
        moderated = 0
        for review in queryset:
            if request.user.has_perm(self._perm("change"), review):
                car_review_moderate(actor=request.user, review=review, approve=approve)
                moderated += 1
        self.message_user(
            request,
            f"{moderated} review(s) {'approved' if approve else 'rejected'}.",
            messages.SUCCESS,
        )

    @admin.action(description="Approve selected reviews", permissions=["change"])
    def approve(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._moderate(request, queryset.exclude(status=ReviewStatus.APPROVED), approve=True)

    @admin.action(description="Reject selected reviews", permissions=["change"])
    def reject(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._moderate(request, queryset.exclude(status=ReviewStatus.REJECTED), approve=False)

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Prefetch
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from accounts import roles
from accounts.admin_site import PermittedRelatedListFilter, TenantModelAdmin, view_permission
from accounts.audit import audit_customers_shown, audit_record
from accounts.models import (
    AuditAction,
    AuditEntry,
    Customer,
    Location,
    Membership,
    Organization,
    User,
)
from accounts.selectors import customer_search
from accounts.services import (
    membership_create,
    membership_exists,
    membership_is_last_owner,
    membership_validate,
    second_factor_reset,
)
from accounts.tenancy import ScopedModelMultipleChoiceField


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Accounts across all tenants: for platform admins only (no role grants user permissions)."""

    ordering = ["email"]
    list_display = ["email", "full_name", "is_active", "is_superuser", "last_login"]
    list_filter = ["is_active", "is_superuser"]
    search_fields = ["email", "full_name"]
    readonly_fields = ["last_login", "date_joined"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Personal info", {"fields": ["full_name"]}),
        ("Access", {"fields": ["is_active", "is_superuser"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]
    filter_horizontal = []


@admin.register(Organization)
class OrganizationAdmin(TenantModelAdmin):
    list_display = ["name", "slug", "time_zone", "currency", "location_count", "contact_email"]
    list_filter = ["currency"]
    search_fields = ["name", "slug", "contact_email"]

    def get_prepopulated_fields(self, request, obj=None):
        return {"slug": ["name"]} if obj is None else {}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(location_count=Count("locations"))

    def get_readonly_fields(self, request, obj=None):
        # The organization *is* the tenant, so the base class's "organization" field is not here;
        # its slug is its URL, which only a platform admin changes.
        if obj is not None and not request.user.is_superuser:
            return ["slug"]
        return []

    @admin.display(description="Locations", ordering="location_count")
    def location_count(self, obj: Organization) -> int:
        return obj.location_count


@admin.register(Location)
class LocationAdmin(TenantModelAdmin):
    list_display = ["name", "organization", "city", "country", "time_zone"]
    list_filter = [("organization", PermittedRelatedListFilter), "country"]
    search_fields = ["name", "city", "street_address", "postal_code"]
    list_select_related = ["organization"]
    prepopulated_fields = {"slug": ["name"]}
    fieldsets = [
        (None, {"fields": ["organization", "name", "slug", "time_zone"]}),
        ("Address", {"fields": ["street_address", "postal_code", "city", "country", "phone"]}),
    ]


class MembershipInviteForm(forms.ModelForm):
    """Adds a member by email: owners never browse the platform's user list."""

    email = forms.EmailField(
        help_text="An account is created, and an invitation sent, for an address that has none."
    )

    class Meta:
        model = Membership
        fields = ["organization", "email", "role", "limited_to_locations", "locations"]
        # Built at import time, outside any scope; the admin gives the queryset per request.
        field_classes = {"locations": ScopedModelMultipleChoiceField}

    def clean(self):
        cleaned = super().clean()
        organization = cleaned.get("organization")
        if organization is None or "role" not in cleaned:
            return cleaned
        membership_validate(
            organization=organization,
            role=cleaned["role"],
            limited_to_locations=cleaned.get("limited_to_locations", False),
            locations=cleaned.get("locations", []),
        )
        email = cleaned.get("email", "")
        if email and membership_exists(organization=organization, email=email):
            self.add_error("email", f"{email} is already a member of {organization}.")
        return cleaned


class MembershipForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["role", "limited_to_locations", "locations"]
        field_classes = {"locations": ScopedModelMultipleChoiceField}

    def clean(self):
        cleaned = super().clean()
        if "role" in cleaned:
            membership_validate(
                organization=self.instance.organization,
                role=cleaned["role"],
                limited_to_locations=cleaned.get("limited_to_locations", False),
                locations=cleaned.get("locations", []),
                membership=self.instance,
            )
        return cleaned


@admin.register(Membership)
class MembershipAdmin(TenantModelAdmin):
    list_display = ["user", "organization", "role", "location_names", "created_at"]
    list_filter = [
        ("organization", PermittedRelatedListFilter),
        "role",
        ("locations", PermittedRelatedListFilter),
    ]
    search_fields = ["user__email", "user__full_name"]
    list_select_related = ["user", "organization"]
    autocomplete_fields = ["locations"]
    readonly_fields = ["user"]
    actions = ["reset_second_factor"]

    def get_queryset(self, request):
        # Show only the locations the viewer may know of in "Works at".
        visible = roles.permitted(request.user, view_permission(Location), Location.objects.all())
        return super().get_queryset(request).prefetch_related(Prefetch("locations", visible))

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = MembershipForm if obj is not None else MembershipInviteForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return list(MembershipInviteForm.Meta.fields)
        return ["user", "organization", *MembershipForm.Meta.fields]

    def save_model(self, request, obj: Membership, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            _membership_audit(request, obj, form, AuditAction.MEMBERSHIP_CHANGED)
            return
        # A new member goes through the service (validation, invitation); the admin then
        # carries on with the saved row as if it had saved it itself.
        try:
            created = membership_create(
                organization=form.cleaned_data["organization"],
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                limited_to_locations=form.cleaned_data["limited_to_locations"],
                locations=form.cleaned_data["locations"],
            )
        except ValidationError as error:  # raced with another add since the form was checked
            raise PermissionDenied(error.messages) from error
        obj.pk, obj.user, obj._state.adding = created.pk, created.user, False
        _membership_audit(request, created, form, AuditAction.MEMBERSHIP_ADDED)

    def delete_model(self, request, obj: Membership) -> None:
        _removal_audit(request, [obj], AuditAction.MEMBERSHIP_REMOVED)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        _removal_audit(request, queryset, AuditAction.MEMBERSHIP_REMOVED)
        super().delete_queryset(request, queryset)

    @admin.action(
        description="Reset the second factor (a lost phone: they set up a new one)",
        permissions=["change"],
    )
    def reset_second_factor(self, request, queryset) -> None:
        for membership in queryset.select_related("user"):
            try:
                removed = second_factor_reset(actor=request.user, membership=membership)
            except PermissionDenied as refused:
                self.message_user(request, str(refused), messages.ERROR)
                continue
            done = "sets up a new authenticator" if removed else "had none; sets one up if asked"
            self.message_user(request, f"{membership.user}: {done} at the next sign-in.")

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and membership_is_last_owner(obj):
            return False  # an organization keeps at least one owner
        return super().has_delete_permission(request, obj)

    @admin.display(description="Works at")
    def location_names(self, obj: Membership) -> str:
        if not obj.limited_to_locations:
            return "All locations"
        return ", ".join(location.name for location in obj.locations.all())


@admin.register(Customer)
class CustomerAdmin(TenantModelAdmin):
    """The customer's bookings and totals are on the desk's history page, linked from the
    change page's tools (templates/admin/accounts/customer/change_form.html)."""

    list_display = ["full_name", "email", "phone", "organization", "has_account", "created_at"]
    list_filter = [("organization", PermittedRelatedListFilter), "created_at"]
    # Email and phone are encrypted: customer_search finds them whole, by their blind index.
    search_fields = ["full_name"]
    search_help_text = "A name or part of one, a whole email address, or a phone number."
    list_select_related = ["organization"]
    readonly_fields = ["user", "created_at"]
    date_hierarchy = "created_at"

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        # Narrowed from the same queryset, so the roles' rows and the tenant wall still hold.
        return queryset.filter(customer_search(search_term)), False

    @admin.display(description="Account", boolean=True)
    def has_account(self, obj: Customer) -> bool:
        return obj.user_id is not None

    def changelist_view(self, request, extra_context=None):
        """The list shows contact details: the customers on the page are recorded as seen."""
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if request.method == "GET" and response.status_code == 200 and changelist is not None:
            _listing_audit(request, changelist.result_list)
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        customer = getattr(response, "context_data", {}).get("original")
        if request.method == "GET" and response.status_code == 200 and customer is not None:
            audit_record(
                actor=request.user,
                action=AuditAction.CUSTOMER_VIEWED,
                organization_id=customer.organization_id,
                target=customer,
            )
        return response

    def save_model(self, request, obj: Customer, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit_record(
            actor=request.user,
            action=AuditAction.CUSTOMER_CHANGED if change else AuditAction.CUSTOMER_ADDED,
            organization_id=obj.organization_id,
            target=obj,
            details={"fields": form.changed_data},  # which fields, never their values
        )

    def delete_model(self, request, obj: Customer) -> None:
        _removal_audit(request, [obj], AuditAction.CUSTOMER_DELETED)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        _removal_audit(request, queryset, AuditAction.CUSTOMER_DELETED)
        super().delete_queryset(request, queryset)


def _listing_audit(request, customers) -> None:
    """One entry per organization whose customers the list showed (a platform admin's list
    spans several)."""
    by_organization: dict[int, list[int]] = {}
    for customer in customers:
        by_organization.setdefault(customer.organization_id, []).append(customer.pk)
    for organization_id, customer_ids in by_organization.items():
        audit_customers_shown(
            actor=request.user,
            action=AuditAction.CUSTOMER_LISTED,
            organization_id=organization_id,
            customer_ids=customer_ids,
        )


def _membership_audit(request, membership: Membership, form, action: str) -> None:
    details = {
        "user_id": membership.user_id,
        "role": membership.role,
        "limited_to_locations": membership.limited_to_locations,
        "location_ids": sorted(location.pk for location in form.cleaned_data["locations"]),
        "fields": form.changed_data,
    }
    if "role" in form.changed_data and form.initial.get("role"):
        details["previous_role"] = form.initial["role"]
    audit_record(
        actor=request.user,
        action=action,
        organization_id=membership.organization_id,
        target=membership,
        details=details,
    )


def _removal_audit(request, rows, action: str) -> None:
    """One entry per row deleted, written in the admin's transaction before the rows go."""
    for row in rows:
        details = {"user_id": row.user_id, "role": row.role} if isinstance(row, Membership) else {}
        audit_record(
            actor=request.user,
            action=action,
            organization_id=row.organization_id,
            target=row,
            details=details,
        )


@admin.register(AuditEntry)
class AuditEntryAdmin(TenantModelAdmin):
    """The trail, read-only: owners read their organization's, platform admins everyone's
    (accounts.roles); nobody adds, changes or deletes an entry, and PostgreSQL agrees."""

    list_display = [
        "created_at",
        "actor",
        "action",
        "target",
        "organization",
        "address",
        "request_id",
    ]
    list_filter = ["action", ("organization", PermittedRelatedListFilter)]
    search_fields = ["request_id", "actor__full_name", "actor__email"]
    list_select_related = ["actor", "organization"]
    date_hierarchy = "created_at"
    fields = [
        "created_at",
        "organization",
        "actor",
        "action",
        "target",
        "details",
        "address",
        "user_agent",
        "request_id",
    ]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Target")
    def target(self, entry: AuditEntry):
        """A link to the row touched, where it still exists and has an admin page."""
        if entry.target_id is None:
            return f"{entry.target_type} (list: see details)"
        label = f"{entry.target_type} #{entry.target_id}"
        app_label, model_name = entry.target_type.split(".")
        try:
            url = reverse(f"admin:{app_label}_{model_name}_change", args=[entry.target_id])
        except NoReverseMatch:
            return label
        return format_html('<a href="{}">{}</a>', url, label)

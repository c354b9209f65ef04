from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count

from accounts.admin_site import TenantModelAdmin
from accounts.models import Customer, Location, Membership, Organization, User
from accounts.services import membership_validate, user_get_or_invite
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
    list_filter = [("organization", admin.RelatedOnlyFieldListFilter), "country"]
    search_fields = ["name", "city", "street_address", "postal_code"]
    list_select_related = ["organization"]
    prepopulated_fields = {"slug": ["name"]}
    fieldsets = [
        (None, {"fields": ["organization", "name", "slug", "time_zone"]}),
        ("Address", {"fields": ["street_address", "postal_code", "city", "country", "phone"]}),
    ]


class MembershipInviteForm(forms.ModelForm):
    """Adds a member by email: owners never browse the platform's user list."""

    email = forms.EmailField(help_text="An account is created for this address if it has none.")

    class Meta:
        model = Membership
        fields = ["organization", "email", "role", "locations"]
        # Built at import time, outside any scope; the admin gives the queryset per request.
        field_classes = {"locations": ScopedModelMultipleChoiceField}

    def clean(self):
        cleaned = super().clean()
        organization = cleaned.get("organization")
        if organization is None or "role" not in cleaned:
            return cleaned
        membership_validate(
            organization=organization, role=cleaned["role"], locations=cleaned.get("locations", [])
        )
        email = cleaned.get("email", "").lower()
        if Membership.objects.filter(organization=organization, user__email=email).exists():
            self.add_error("email", f"{email} is already a member of {organization}.")
        return cleaned


class MembershipForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["role", "locations"]
        field_classes = {"locations": ScopedModelMultipleChoiceField}

    def clean(self):
        cleaned = super().clean()
        if "role" in cleaned:
            membership_validate(
                organization=self.instance.organization,
                role=cleaned["role"],
                locations=cleaned.get("locations", []),
            )
        return cleaned


@admin.register(Membership)
class MembershipAdmin(TenantModelAdmin):
    list_display = ["user", "organization", "role", "location_names", "created_at"]
    list_filter = [
        ("organization", admin.RelatedOnlyFieldListFilter),
        "role",
        ("locations", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["user__email", "user__full_name"]
    list_select_related = ["user", "organization"]
    autocomplete_fields = ["locations"]
    readonly_fields = ["user"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("locations")

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = MembershipForm if obj is not None else MembershipInviteForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        return (
            ["user", "organization", "role", "locations"]
            if obj
            else list(MembershipInviteForm.Meta.fields)
        )

    def save_model(self, request, obj: Membership, form, change: bool) -> None:
        if not change:
            obj.user = user_get_or_invite(email=form.cleaned_data["email"])
        super().save_model(request, obj, form, change)

    @admin.display(description="Limited to")
    def location_names(self, obj: Membership) -> str:
        return ", ".join(location.name for location in obj.locations.all()) or "All locations"


@admin.register(Customer)
class CustomerAdmin(TenantModelAdmin):
    list_display = ["full_name", "email", "phone", "organization", "has_account", "created_at"]
    list_filter = [("organization", admin.RelatedOnlyFieldListFilter), "created_at"]
    search_fields = ["full_name", "email", "phone"]
    list_select_related = ["organization"]
    readonly_fields = ["user", "created_at"]
    date_hierarchy = "created_at"

    @admin.display(description="Account", boolean=True)
    def has_account(self, obj: Customer) -> bool:
        return obj.user_id is not None

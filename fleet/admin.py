"""The admin of what can be booked: resources and cars. Their maintenance windows and the
cars' reviews are the engine's (bookings.admin.resources)."""

from django.contrib import admin

from accounts.admin_site import PermittedRelatedListFilter, TenantModelAdmin
from fleet.models import Car, Resource


@admin.register(Resource)
class ResourceAdmin(TenantModelAdmin):
    list_display = ["name", "kind", "location", "membership", "is_active"]
    list_filter = ["kind", "is_active", ("location", PermittedRelatedListFilter)]
    search_fields = ["name", "membership__user__email", "membership__user__full_name"]
    list_select_related = ["location", "membership__user"]
    fields = ["organization", "location", "kind", "name", "membership", "is_active"]


@admin.register(Car)
class CarAdmin(TenantModelAdmin):
    list_display = [
        "__str__",
        "resource",
        "daily_rate",
        "seats",
        "transmission",
        "average_rating",
        "review_count",
    ]
    list_filter = ["transmission", "seats", ("resource__location", PermittedRelatedListFilter)]
    search_fields = ["make", "model", "resource__name"]
    list_select_related = ["resource__location"]
    readonly_fields = ["average_rating", "review_count"]

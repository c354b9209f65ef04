"""The admin of what can be booked: resources and cars. Their maintenance windows and the
cars' reviews are the engine's (bookings.admin.resources).

Both fit the business from its data, never from what kind of business it says it is: the
resource kinds an organization has (fleet.selectors.resource_kinds_of) name the resources'
menu entry and columns, and decide whether cars are in the menu at all.
"""

from django.contrib import admin
from django.http import HttpRequest

from accounts.admin_site import PermittedRelatedListFilter, TenantModelAdmin
from fleet.models import Car, Resource, ResourceKind
from fleet.selectors import resource_kinds_of

# How a business's resources are called, by kind, in the order they are named.
KIND_PLURALS = {
    ResourceKind.BAY: "bays",
    ResourceKind.CAR: "cars",
    ResourceKind.STAFF: "staff members",
}


def resources_named(kinds: frozenset[str]) -> str | None:
    """ "Bays and staff members" for the kinds a business has; None when it has none yet."""
    names = [plural for kind, plural in KIND_PLURALS.items() if kind in kinds]
    if not names:
        return None
    text = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    return text[0].upper() + text[1:]


@admin.register(Resource)
class ResourceAdmin(TenantModelAdmin):
    list_display = ["name", "kind", "location", "membership", "is_active"]
    list_filter = ["kind", "is_active", ("location", PermittedRelatedListFilter)]
    search_fields = ["name", "membership__user__email", "membership__user__full_name"]
    list_select_related = ["location", "membership__user"]
    fields = ["organization", "location", "kind", "name", "membership", "is_active"]

    def menu_name(self, request: HttpRequest) -> str:
        return resources_named(resource_kinds_of(request.user)) or self.opts.verbose_name_plural

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(
            request, {"title": self.menu_name(request), **(extra_context or {})}
        )

    def get_list_display(self, request):
        kinds = resource_kinds_of(request.user)
        hidden = set()
        if len(kinds) == 1:
            hidden.add("kind")  # one kind: the column would say the same on every row
        if ResourceKind.STAFF not in kinds:
            hidden.add("membership")  # whose time: only staff members' time has an owner
        return [column for column in super().get_list_display(request) if column not in hidden]

    def get_list_filter(self, request):
        if len(resource_kinds_of(request.user)) == 1:
            return [spec for spec in super().get_list_filter(request) if spec != "kind"]
        return super().get_list_filter(request)

    def get_changeform_initial_data(self, request) -> dict:
        initial = super().get_changeform_initial_data(request)
        kinds = resource_kinds_of(request.user)
        if len(kinds) == 1:
            initial.setdefault("kind", next(iter(kinds)))  # another of what they have
        return initial


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

    def has_module_permission(self, request: HttpRequest) -> bool:
        # Cars are in the menu of a business that has a car resource: a wash or a barbershop
        # has none; its first car resource brings them in.
        return ResourceKind.CAR in resource_kinds_of(
            request.user
        ) and super().has_module_permission(request)

"""What each role may do, in one place: the admin, the pages and the API all ask this module.

Permissions use Django's own names ("accounts.change_location"), so `user.has_perm(perm, obj)`
answers them through RoleBackend, and querysets are narrowed with `permitted()`; both build the
same row condition (`_rows_condition`), so a list and a detail page can never disagree.

A permission is granted to a role within one organization. It may be narrowed twice:
- a member limited to some locations gets it only for rows of those locations (a model says
  how to reach its location: TenantModel.at_locations);
- some grants hold only for the member's own rows (OWN_ROWS_ONLY: a staff member's own
  schedule; a model names the path to its owner in tenant_owner_path).
Platform admins (active superusers) pass every check.
"""

from dataclasses import dataclass
from typing import TypeVar

from django.contrib.auth.backends import ModelBackend
from django.db import models
from django.db.models import Q
from django_scopes import scope

from accounts.models import Membership, Organization, Role, TenantModel
from config.row_security import platform_wide

ACTIONS = ("view", "add", "change", "delete")


def _perms(model: str, *actions: str, app: str = "accounts") -> set[str]:
    return {f"{app}.{action}_{model}" for action in actions}


# The analytics views' figures: owners see every location's, managers their locations'; a staff
# member's dashboard shows their own day only, from their bookings.
REPORTS = (
    _perms("locationday", "view", app="analytics")
    | _perms("resourceday", "view", app="analytics")
    | _perms("offeringmonth", "view", app="analytics")
)

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset(
        _perms("organization", "view", "change")
        | _perms("location", *ACTIONS)
        | _perms("membership", *ACTIONS)
        | _perms("customer", *ACTIONS)
        # The trail of staff access to personal data (accounts/audit.py): owners answer for
        # their staff, so they read it; nobody changes it, and managers and staff do not read it.
        | _perms("auditentry", "view")
        | _perms("resource", *ACTIONS, app="fleet")
        | _perms("car", *ACTIONS, app="fleet")
        | _perms("maintenance", *ACTIONS, app="bookings")
        | _perms("carreview", "view", "change", app="bookings")
        | _perms("service", *ACTIONS, app="bookings")
        | _perms("servicevehicleprice", *ACTIONS, app="bookings")
        | _perms("openinghours", *ACTIONS, app="bookings")
        | _perms("closure", *ACTIONS, app="bookings")
        | _perms("booking", "view", "add", "change", app="bookings")
        | _perms("bookingevent", "view", app="bookings")
        # Change: only to send a failed email again (bookings.admin); the email is never edited.
        | _perms("outboxemail", "view", "change", app="bookings")
        # Payments are rows that are never changed: a refund is a row of its own.
        | _perms("payment", "view", "add", "refund", app="bookings")
        | REPORTS
    ),
    Role.MANAGER: frozenset(
        _perms("organization", "view")
        | _perms("location", "view", "change")
        | _perms("membership", "view")
        | _perms("customer", "view", "add", "change")
        | _perms("resource", *ACTIONS, app="fleet")
        | _perms("car", *ACTIONS, app="fleet")
        | _perms("maintenance", *ACTIONS, app="bookings")
        | _perms("carreview", "view", "change", app="bookings")
        | _perms("service", "view", app="bookings")
        | _perms("servicevehicleprice", "view", app="bookings")
        | _perms("openinghours", *ACTIONS, app="bookings")
        | _perms("closure", *ACTIONS, app="bookings")
        | _perms("booking", "view", "add", "change", app="bookings")
        | _perms("bookingevent", "view", app="bookings")
        | _perms("outboxemail", "view", "change", app="bookings")
        | _perms("payment", "view", "add", "refund", app="bookings")
        | REPORTS
    ),
    Role.STAFF: frozenset(
        _perms("organization", "view")
        | _perms("location", "view")
        | _perms("customer", "view")
        | _perms("resource", "view", app="fleet")
        | _perms("car", "view", app="fleet")
        | _perms("service", "view", app="bookings")
        | _perms("openinghours", "view", app="bookings")
        | _perms("closure", "view", app="bookings")
        # A staff member books walk-ins at their locations and blocks their own time.
        | _perms("booking", "view", "add", "change", app="bookings")
        | _perms("maintenance", "view", "add", "delete", app="bookings")
        | _perms("bookingevent", "view", app="bookings")
        | _perms("outboxemail", "view", app="bookings")
        # A barber takes payment at the chair, so staff take payments of their own bookings
        # (add_payment is checked against the booking being paid); giving money back is left
        # to owners and managers, who answer for the till.
        | _perms("payment", "view", "add", app="bookings")
    ),
}

# Grants that hold only for the member's own rows (see TenantModel.tenant_owner_path): a staff
# member works with their own schedule, may move its bookings along (start, complete) and see
# the emails their customers got about them.
OWN_ROWS_ONLY: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset(),
    Role.MANAGER: frozenset(),
    Role.STAFF: frozenset(
        _perms("booking", "view", "change", app="bookings")
        | _perms("maintenance", "view", "add", "delete", app="bookings")
        | _perms("bookingevent", "view", app="bookings")
        | _perms("outboxemail", "view", app="bookings")
        | _perms("payment", "view", "add", app="bookings")
    ),
}


@dataclass(frozen=True)
class Grant:
    """A user's role in one organization; location_ids is None when not limited to locations."""

    organization_id: int
    role: str
    location_ids: frozenset[int] | None

    def allows(self, perm: str) -> bool:
        return perm in ROLE_PERMISSIONS[self.role]


def is_platform_admin(user) -> bool:
    return user.is_active and user.is_superuser


def grants_of(user) -> dict[int, Grant]:
    """The user's grants by organization id, loaded once per user object (once per request)."""
    if not user.is_authenticated or not user.is_active:
        return {}
    cached = getattr(user, "_role_grants", None)
    if cached is None:
        # Memberships decide which scope a request gets, so they are read before any scope exists.
        with platform_wide("role grants: the user's own memberships, before any scope"):
            memberships = Membership.objects.filter(user=user).prefetch_related("locations")
            cached = {
                m.organization_id: Grant(
                    organization_id=m.organization_id,
                    role=m.role,
                    location_ids=frozenset(location.pk for location in m.locations.all())
                    if m.limited_to_locations
                    else None,
                )
                for m in memberships
            }
        user._role_grants = cached
    return cached


def can_access_admin(user) -> bool:
    """Staff of any organization and platform admins work in the admin; customers do not."""
    return is_platform_admin(user) or bool(grants_of(user))


def _is_tenant_data(model: type[models.Model]) -> bool:
    return model is Organization or issubclass(model, TenantModel)


def _rows_condition(user, perm: str, model: type[models.Model], grant: Grant) -> Q:
    """The rows of `model` in the grant's organization that the grant lets `user` reach."""
    condition = Q(**{"pk" if model is Organization else "organization": grant.organization_id})
    if model is Organization:
        return condition
    if grant.location_ids is not None:
        at_locations = model.at_locations(grant.location_ids)
        if at_locations is not None:
            condition &= at_locations
    if perm in OWN_ROWS_ONLY[grant.role] and model.tenant_owner_path:
        condition &= Q(**{model.tenant_owner_path: user.pk})
    return condition


def has_role_permission(user, perm: str, obj: models.Model | None = None) -> bool:
    """Whether a role grants `perm`: in any organization (obj=None), or for this object."""
    grants = grants_of(user)
    if obj is None:
        return any(grant.allows(perm) for grant in grants.values())
    model = type(obj)
    if not _is_tenant_data(model):
        return False  # roles grant nothing outside tenant data
    grant = grants.get(obj.pk if model is Organization else obj.organization_id)
    if grant is None or not grant.allows(perm):
        return False
    if grant.location_ids is None and perm not in OWN_ROWS_ONLY[grant.role]:
        return True  # the whole organization: no need to ask the database
    # Read in the row's own organization, where the user holds the grant: the question may be
    # asked outside a request's scope, and the database's wall (config/row_security.py) shows
    # a row only inside its organization's scope.
    with scope(organization=grant.organization_id):
        rows = model._base_manager.filter(_rows_condition(user, perm, model, grant), pk=obj.pk)
        return rows.exists()


QuerySetT = TypeVar("QuerySetT", bound=models.QuerySet)


def permitted(user, perm: str, queryset: QuerySetT) -> QuerySetT:
    """Narrow a queryset to the rows for which `user.has_perm(perm, row)` holds."""
    if is_platform_admin(user):
        return queryset
    model = queryset.model
    if not _is_tenant_data(model):
        return queryset.none()
    condition = Q(pk__in=[])
    for grant in grants_of(user).values():
        if grant.allows(perm):
            condition |= _rows_condition(user, perm, model, grant)
    return queryset.filter(condition)


class RoleBackend(ModelBackend):
    """Signs users in by email and password; their permissions come from their roles only.

    Django's per-user and per-group permissions are switched off, so nothing grants a right
    that this module does not list.
    """

    def get_user_permissions(self, user_obj, obj=None) -> set[str]:
        return set()

    def get_group_permissions(self, user_obj, obj=None) -> set[str]:
        return set()

    def has_perm(self, user_obj, perm: str, obj=None) -> bool:
        return has_role_permission(user_obj, perm, obj)

    def has_module_perms(self, user_obj, app_label: str) -> bool:
        return any(
            perm.startswith(f"{app_label}.")
            for grant in grants_of(user_obj).values()
            for perm in ROLE_PERMISSIONS[grant.role]
        )


def kinds_in_organizations(user, model: type[models.Model], all_kinds: list[str]) -> frozenset:
    """The `kind` values of a model's rows in the user's organizations (what kinds of resource
    or service the business has), read once per user object, i.e. once per request; every
    kind for a platform admin. The admin shows what fits the business from these."""
    if is_platform_admin(user):
        return frozenset(all_kinds)
    cache = user.__dict__.setdefault("_kinds_in_organizations", {})
    if model not in cache:
        cache[model] = frozenset(
            model._default_manager.filter(organization_id__in=list(grants_of(user)))
            .values_list("kind", flat=True)
            .distinct()
        )
    return cache[model]

"""What each role may do, in one place: the admin, the pages and the API all ask this module.

Permissions use Django's own names ("accounts.change_location"), so `user.has_perm(perm, obj)`
answers them through RolePermissionBackend, and querysets are narrowed with `permitted()`.
A permission is granted to a role within one organization; a member limited to some locations
gets it only for rows of those locations (models say how to reach theirs: tenant_location_path).
Platform admins (superusers) pass every check through Django's own superuser rule.
"""

from dataclasses import dataclass
from typing import TypeVar

from django.contrib.auth.backends import BaseBackend
from django.db import models
from django.db.models import Q
from django_scopes import scopes_disabled

from accounts.models import Membership, Organization, Role, TenantModel

ACTIONS = ("view", "add", "change", "delete")


def _perms(model: str, *actions: str, app: str = "accounts") -> set[str]:
    return {f"{app}.{action}_{model}" for action in actions}


ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset(
        _perms("organization", "view", "change")
        | _perms("location", *ACTIONS)
        | _perms("membership", *ACTIONS)
        | _perms("customer", *ACTIONS)
    ),
    Role.MANAGER: frozenset(
        _perms("organization", "view")
        | _perms("location", "view", "change")
        | _perms("membership", "view")
        | _perms("customer", "view", "add", "change")
    ),
    Role.STAFF: frozenset(
        _perms("organization", "view") | _perms("location", "view") | _perms("customer", "view")
    ),
}


@dataclass(frozen=True)
class Grant:
    """A user's role in one organization, with the locations it is limited to (empty: all)."""

    organization_id: int
    role: str
    location_ids: frozenset[int]

    def allows(self, perm: str) -> bool:
        return perm in ROLE_PERMISSIONS[self.role]


def grants_of(user) -> dict[int, Grant]:
    """The user's grants by organization id, loaded once per user object (once per request)."""
    if not user.is_authenticated or not user.is_active:
        return {}
    cached = getattr(user, "_role_grants", None)
    if cached is None:
        # Memberships decide which scope a request gets, so they are read before any scope exists.
        with scopes_disabled():
            memberships = Membership.objects.filter(user=user).prefetch_related("locations")
            cached = {
                m.organization_id: Grant(
                    organization_id=m.organization_id,
                    role=m.role,
                    location_ids=frozenset(location.pk for location in m.locations.all()),
                )
                for m in memberships
            }
        user._role_grants = cached
    return cached


def can_access_admin(user) -> bool:
    """Staff of any organization and platform admins work in the admin; customers do not."""
    return user.is_active and (user.is_superuser or bool(grants_of(user)))


def _path_value(obj: models.Model, path: str):
    """Follow a `a__b` lookup path on an instance; 'pk' is the object's own key."""
    if path == "pk":
        return obj.pk
    *relations, last = path.split("__")
    for name in relations:
        obj = getattr(obj, name)
    return getattr(obj, f"{last}_id")


def _organization_path(model: type[models.Model]) -> str:
    return "pk" if model is Organization else "organization"


def has_role_permission(user, perm: str, obj: models.Model | None = None) -> bool:
    """Whether a role grants `perm`: in any organization (obj=None), or for this object."""
    grants = grants_of(user)
    if obj is None:
        return any(grant.allows(perm) for grant in grants.values())
    grant = grants.get(_path_value(obj, _organization_path(type(obj))))
    if grant is None or not grant.allows(perm):
        return False
    location_path = getattr(obj, "tenant_location_path", None)
    if grant.location_ids and location_path:
        return _path_value(obj, location_path) in grant.location_ids
    return True


QuerySetT = TypeVar("QuerySetT", bound=models.QuerySet)


def permitted(user, perm: str, queryset: QuerySetT) -> QuerySetT:
    """Narrow a queryset to the rows for which `user.has_perm(perm, row)` holds."""
    if user.is_active and user.is_superuser:
        return queryset
    model = queryset.model
    if model is not Organization and not issubclass(model, TenantModel):
        return queryset.none()  # roles grant nothing outside tenant data
    location_path = model.tenant_location_path if model is not Organization else None
    condition = Q(pk__in=[])
    for grant in grants_of(user).values():
        if not grant.allows(perm):
            continue
        in_grant = Q(**{_organization_path(model): grant.organization_id})
        if grant.location_ids and location_path:
            in_grant &= Q(**{f"{location_path}__in": grant.location_ids})
        condition |= in_grant
    return queryset.filter(condition)


class RolePermissionBackend(BaseBackend):
    """Answers `user.has_perm()` from the user's role in the object's organization."""

    def has_perm(self, user_obj, perm: str, obj=None) -> bool:
        return has_role_permission(user_obj, perm, obj)

    def has_module_perms(self, user_obj, app_label: str) -> bool:
        return any(
            perm.startswith(f"{app_label}.")
            for grant in grants_of(user_obj).values()
            for perm in ROLE_PERMISSIONS[grant.role]
        )

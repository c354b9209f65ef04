"""Reads of what can be booked that other rooms share."""

from accounts.roles import grants_of, is_platform_admin
from fleet.models import Resource, ResourceKind


def resource_kinds_of(user) -> frozenset[str]:
    """The kinds of resource the user's organizations have, at any of their locations: what
    the business is (bays: a wash; staff members' time: a barbershop; cars: rentals). The admin
    shows what fits from this; a platform admin gets every kind.

    Read once per user object (once per request), like accounts.roles.grants_of.
    """
    if is_platform_admin(user):
        return frozenset(ResourceKind.values)
    cached = getattr(user, "_resource_kinds", None)
    if cached is None:
        cached = frozenset(
            Resource.objects.filter(organization_id__in=list(grants_of(user)))
            .values_list("kind", flat=True)
            .distinct()
        )
        user._resource_kinds = cached
    return cached

"""Reads of what can be booked that other rooms share."""

from accounts.roles import kinds_in_organizations
from fleet.models import Resource, ResourceKind


def resource_kinds_of(user) -> frozenset[str]:
    """The kinds of resource the user's organizations have, at any of their locations: what
    the business is (bays: a wash; staff members' time: a barbershop; cars: rentals). The admin
    shows what fits from this; a platform admin gets every kind.
    """
    return kinds_in_organizations(user, Resource, ResourceKind.values)

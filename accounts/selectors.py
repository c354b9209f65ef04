"""Reads of the accounts app that several rooms share: finding a customer however staff type
them, and where a person works."""

import re
from dataclasses import dataclass

from django.db.models import Prefetch, Q, QuerySet

from accounts.models import Customer, Location, Membership, User
from config.row_security import platform_wide

# A search typed like a phone number: digits with the usual separators, and enough digits.
PHONE_LIKE = re.compile(r"^\+?[\d\s().-]+$")
PHONE_MIN_DIGITS = 6


def customer_search(term: str, *, path: str = "") -> Q:
    """Customers (at `path`, e.g. "customer__") whose name contains `term`, whose email is
    `term` (any case), or whose phone is the number `term` spells however it was typed
    ("040 123 4567", "+358 40 1234567", "00358401234567"). Email and phone are encrypted, so
    they match whole, through their blind indexes (config/encryption.py), never in part."""
    term = term.replace("\x00", "").strip()
    condition = Q(**{f"{path}full_name__icontains": term})
    if "@" in term:
        condition |= Customer.email_is(term, path=path)
    if PHONE_LIKE.match(term) and len(re.sub(r"\D", "", term)) >= PHONE_MIN_DIGITS:
        condition |= Customer.phone_is(term, path=path)
    return condition


def customers_matching(customers: QuerySet[Customer], term: str) -> QuerySet[Customer]:
    """The customers (of a queryset the caller may see) `customer_search` finds; alphabetical."""
    return customers.filter(customer_search(term)).order_by("full_name", "pk")


# fleet.Resource.kind of a staff member's own time; named as data, as accounts may not import fleet.
STAFF_RESOURCE_KIND = "staff"


@dataclass(frozen=True)
class Workplace:
    organization_slug: str
    organization_name: str
    role: str
    locations: list[Location]
    resource_ids: list[int]


def account_workplaces(user: User) -> list[Workplace]:
    """Where the user works: per membership, the locations they work at (all of the
    organization's unless limited) and their own bookable time (fleet resources of kind staff
    that name the membership), so an app can open the right schedule. Four queries whatever
    the number of memberships."""
    # Across tenants on purpose, like roles.grants_of: only the user's own memberships.
    with platform_wide("account workplaces: the user's own memberships"):
        resources = Membership._meta.get_field("resources").related_model.objects
        memberships = list(
            Membership.objects.filter(user=user)
            .select_related("organization")
            .prefetch_related(
                Prefetch("locations", queryset=Location.objects.order_by("name", "pk")),
                Prefetch(
                    "resources",
                    queryset=resources.filter(kind=STAFF_RESOURCE_KIND, is_active=True)
                    .order_by("pk")
                    .only("pk", "membership_id"),
                ),
            )
            .order_by("organization__slug")
        )
        everywhere = [m.organization_id for m in memberships if not m.limited_to_locations]
        by_organization: dict[int, list[Location]] = {}
        if everywhere:
            for location in Location.objects.filter(organization__in=everywhere).order_by(
                "name", "pk"
            ):
                by_organization.setdefault(location.organization_id, []).append(location)
    return [
        Workplace(
            organization_slug=m.organization.slug,
            organization_name=m.organization.name,
            role=m.role,
            locations=list(m.locations.all())
            if m.limited_to_locations
            else by_organization.get(m.organization_id, []),
            resource_ids=[resource.pk for resource in m.resources.all()],
        )
        for m in memberships
    ]

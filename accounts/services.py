"""Writes on users, memberships and customers."""

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import Location, Membership, Organization, Role, User


def membership_validate(
    *, organization: Organization, role: str, locations: Iterable[Location]
) -> None:
    """A member may be limited to locations of their own organization; an owner is never limited."""
    locations = list(locations)
    if role == Role.OWNER and locations:
        raise ValidationError({"locations": "An owner works for the whole organization."})
    foreign = [
        location.name for location in locations if location.organization_id != organization.pk
    ]
    if foreign:
        raise ValidationError(
            {"locations": f"Not locations of {organization}: {', '.join(foreign)}."}
        )


def user_get_or_invite(*, email: str, full_name: str = "") -> User:
    """The user with this email, created without a usable password if they have no account yet."""
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email, password=None, full_name=full_name)
    return user


@transaction.atomic
def membership_create(
    *,
    organization: Organization,
    email: str,
    role: str,
    locations: Iterable[Location] = (),
    full_name: str = "",
) -> Membership:
    """Add a person to an organization's staff, inviting them if they have no account yet."""
    locations = list(locations)
    membership_validate(organization=organization, role=role, locations=locations)
    user = user_get_or_invite(email=email, full_name=full_name)
    if Membership.objects.with_scope(organization=organization).filter(user=user).exists():
        raise ValidationError({"email": f"{email} is already a member of {organization}."})
    membership = Membership.objects.create(organization=organization, user=user, role=role)
    membership.locations.set(locations)
    return membership

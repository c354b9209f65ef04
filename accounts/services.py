"""Writes on users, memberships and customers."""

from collections.abc import Iterable

from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import Customer, Location, Membership, Organization, Role, User


def membership_validate(
    *,
    organization: Organization,
    role: str,
    limited_to_locations: bool,
    locations: Iterable[Location],
    membership: Membership | None = None,
) -> None:
    """The rules of a membership, for a new one or a change of `membership`."""
    locations = list(locations)
    if role == Role.OWNER and limited_to_locations:
        raise ValidationError(
            {"limited_to_locations": "An owner works for the whole organization."}
        )
    if limited_to_locations and not locations:
        raise ValidationError({"locations": "Choose the locations this member works at."})
    if locations and not limited_to_locations:
        raise ValidationError(
            {
                "locations": "Leave empty for the whole organization, or tick "
                "“Work only at the locations chosen below”."
            }
        )
    foreign = [loc.name for loc in locations if loc.organization_id != organization.pk]
    if foreign:
        raise ValidationError(
            {"locations": f"Not locations of {organization}: {', '.join(foreign)}."}
        )
    if membership is not None and role != Role.OWNER and membership_is_last_owner(membership):
        raise ValidationError({"role": "An organization keeps at least one owner."})


def membership_is_last_owner(membership: Membership) -> bool:
    """Whether removing or demoting this member would leave the organization without an owner."""
    if membership.pk is None:
        return False
    owners = Membership.objects.with_scope(organization=membership.organization_id).filter(
        role=Role.OWNER
    )
    return list(owners.values_list("pk", flat=True)) == [membership.pk]


def membership_exists(*, organization: Organization, email: str) -> bool:
    return (
        Membership.objects.with_scope(organization=organization.pk)
        .filter(user__email=email.lower())
        .exists()
    )


def user_get_or_invite(*, email: str, full_name: str = "", invite_url_base: str = "") -> User:
    """The user with this email; a new one gets no password and an email to choose one."""
    user = User.objects.filter(email=email.lower()).first()
    if user is None:
        user = User.objects.create_user(email, password=None, full_name=full_name)
        transaction.on_commit(lambda: _send_invitation(user, invite_url_base))
    return user


def _send_invitation(user: User, url_base: str) -> None:
    path = reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    send_mail(
        subject="You have been invited to the booking platform",
        message=f"Choose your password to sign in: {url_base}{path}",
        from_email=None,
        recipient_list=[user.email],
    )


@transaction.atomic
def membership_create(
    *,
    organization: Organization,
    email: str,
    role: str,
    limited_to_locations: bool = False,
    locations: Iterable[Location] = (),
    full_name: str = "",
    invite_url_base: str = "",
) -> Membership:
    """Add a person to an organization's staff, inviting them if they have no account yet."""
    locations = list(locations)
    membership_validate(
        organization=organization,
        role=role,
        limited_to_locations=limited_to_locations,
        locations=locations,
    )
    if membership_exists(organization=organization, email=email):
        raise ValidationError({"email": f"{email} is already a member of {organization}."})
    user = user_get_or_invite(email=email, full_name=full_name, invite_url_base=invite_url_base)
    membership = Membership.objects.with_scope(organization=organization.pk).create(
        organization=organization, user=user, role=role, limited_to_locations=limited_to_locations
    )
    membership.locations.set(locations)
    return membership


@transaction.atomic
def customer_account_create(*, email: str, password: str, full_name: str) -> User:
    """Sign-up of a customer: an account that books with any organization on the platform."""
    email = User.objects.normalize_email(email).lower()
    candidate = User(email=email, full_name=full_name)
    try:
        validate_password(password, user=candidate)
    except ValidationError as error:
        raise ValidationError({"password": error.messages}) from error
    if User.objects.filter(email=email).exists():
        raise ValidationError({"email": "An account with this email already exists."})
    try:
        with transaction.atomic():
            return User.objects.create_user(email, password=password, full_name=full_name)
    except IntegrityError as error:  # the same email signed up a moment ago
        raise ValidationError({"email": "An account with this email already exists."}) from error


def customer_for_account(*, organization: Organization, user: User) -> Customer:
    """The customer profile an account books with at an organization, made at its first booking.

    A guest profile with the same email (booked without an account) is booked on, so the business
    sees one customer, but it is not linked to the account: sign-up does not prove that the email
    is the user's, and linking would show the guest's earlier bookings to whoever signed up.
    """
    scoped = Customer.objects.with_scope(organization=organization.pk)
    customer = scoped.filter(user=user).first() or scoped.filter(email=user.email).first()
    if customer is not None:
        return customer
    try:
        with transaction.atomic():
            return scoped.create(
                organization=organization,
                user=user,
                email=user.email,
                full_name=user.full_name or user.email,
            )
    except IntegrityError:  # the account's first two bookings arrived together
        return scoped.get(email=user.email)


def customer_for_guest(
    *, organization: Organization, full_name: str, email: str, phone: str = ""
) -> Customer:
    """The customer profile a guest (no account) books with: found by email, or made.

    An existing profile keeps its name and phone: anyone can type an email into the booking
    form, so what they type must not overwrite the business's record of that customer. A
    missing phone is filled in.
    """
    email = User.objects.normalize_email(email).lower()
    scoped = Customer.objects.with_scope(organization=organization.pk)
    customer = scoped.filter(email=email).first()
    if customer is None:
        try:
            with transaction.atomic():
                return scoped.create(
                    organization=organization, email=email, full_name=full_name, phone=phone
                )
        except IntegrityError:  # the same guest's two bookings arrived together
            customer = scoped.get(email=email)
    if phone and not customer.phone:
        customer.phone = phone
        customer.save(update_fields=["phone"])
    return customer


def customer_for_desk(
    *, organization: Organization, full_name: str, phone: str = "", email: str = ""
) -> Customer:
    """The customer staff book for at the desk (a walk-in, a phone call): the one with this
    email, else the one with this phone number, else a new one. Name and phone are all a
    walk-in may give; an existing record keeps its details, as with guests."""
    scoped = Customer.objects.with_scope(organization=organization.pk)
    email = User.objects.normalize_email(email).lower() if email else ""
    customer = None
    if email:
        customer = scoped.filter(email=email).first()
    if customer is None and phone:
        customer = scoped.filter(phone=phone).order_by("pk").first()
    if customer is not None:
        return customer
    if email:
        return customer_for_guest(
            organization=organization, full_name=full_name, email=email, phone=phone
        )
    return scoped.create(organization=organization, full_name=full_name, phone=phone)

"""Writes on users, memberships and customers."""

from collections.abc import Iterable

from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.http import urlsafe_base64_decode
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.models import AuthToken
from phonenumber_field.phonenumber import PhoneNumber

from accounts import roles
from accounts.audit import audit_record
from accounts.errors import InvalidLink, LastOwner
from accounts.models import (
    AccountEmailKind,
    AuditAction,
    Customer,
    Location,
    Membership,
    Organization,
    Role,
    User,
)
from accounts.notifications import account_email_queue, verification_token_user
from accounts.signals import account_erased
from config.row_security import platform_wide


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
    # A deleted account (inactive) may keep its membership for the schedule's history; it is
    # no owner anyone can count on.
    owners = Membership.objects.with_scope(organization=membership.organization_id).filter(
        role=Role.OWNER, user__is_active=True
    )
    return list(owners.values_list("pk", flat=True)) == [membership.pk]


def membership_exists(*, organization: Organization, email: str) -> bool:
    return (
        Membership.objects.with_scope(organization=organization.pk)
        .filter(user__email=email.lower())
        .exists()
    )


def user_get_or_invite(*, email: str, full_name: str = "") -> User:
    """The user with this email; a new one gets no password and an invitation to choose one,
    through the account email outbox (sent once the caller's transaction commits)."""
    user = User.objects.filter(email=email.lower()).first()
    if user is None:
        user = User.objects.create_user(email, password=None, full_name=full_name)
        account_email_queue(user=user, kind=AccountEmailKind.STAFF_INVITATION)
    return user


@transaction.atomic
def membership_create(
    *,
    organization: Organization,
    email: str,
    role: str,
    limited_to_locations: bool = False,
    locations: Iterable[Location] = (),
    full_name: str = "",
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
    user = user_get_or_invite(email=email, full_name=full_name)
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
            user = User.objects.create_user(email, password=password, full_name=full_name)
    except IntegrityError as error:  # the same email signed up a moment ago
        raise ValidationError({"email": "An account with this email already exists."}) from error
    account_email_queue(user=user, kind=AccountEmailKind.EMAIL_VERIFICATION)
    return user


def customer_for_account(*, organization: Organization, user: User) -> Customer:
    """The customer profile an account books with at an organization, made at its first booking.

    A guest profile with the same email (booked without an account) is booked on, so the business
    sees one customer, but it is not linked to the account: sign-up does not prove that the email
    is the user's, and linking would show the guest's earlier bookings to whoever signed up.
    """
    scoped = Customer.objects.with_scope(organization=organization.pk)
    customer = scoped.filter(user=user).first()
    customer = customer or scoped.filter(Customer.email_is(user.email)).first()
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
    customer = scoped.filter(Customer.email_is(email)).first()
    if customer is None:
        try:
            with transaction.atomic():
                return scoped.create(
                    organization=organization, email=email, full_name=full_name, phone=phone
                )
        except IntegrityError:  # the same guest's two bookings arrived together
            customer = scoped.get(Customer.email_is(email))
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
        customer = scoped.filter(Customer.email_is(email)).first()
    if customer is None and phone:
        customer = scoped.filter(Customer.phone_is(phone)).order_by("pk").first()
    if customer is not None:
        return customer
    if email:
        return customer_for_guest(
            organization=organization, full_name=full_name, email=email, phone=phone
        )
    return scoped.create(organization=organization, full_name=full_name, phone=phone)


# --- The signed-in person's own account ---------------------------------------------------------

DELETED_CUSTOMER_NAME = "Deleted customer"


def _check_password(user: User, password: str, *, field: str) -> None:
    if not user.check_password(password):
        raise ValidationError({field: "This is not your current password."}, code="wrong_password")


def _validate_new_password(user: User, password: str, *, field: str) -> None:
    try:
        validate_password(password, user=user)
    except ValidationError as error:
        raise ValidationError({field: error.messages}) from error


@transaction.atomic
def account_update(
    *, actor: User, full_name: str | None = None, phone: PhoneNumber | str | None = None
) -> User:
    """Change the signed-in person's name or phone number; what is not given stays."""
    changed = []
    if full_name is not None:
        actor.full_name = full_name
        changed.append("full_name")
    if phone is not None:
        actor.phone = phone
        changed.append("phone")
    if changed:
        actor.save(update_fields=changed)
    return actor


@transaction.atomic
def account_password_change(
    *, actor: User, current_password: str, new_password: str, current_token: AuthToken | None
) -> None:
    """Change the password, proven by the current one, and sign out every other device.

    A password is changed when it may have leaked: whoever used it elsewhere must lose the
    tokens it got them. The token of this request stays, so the person is not signed out of
    the app they are changing it in.
    """
    _check_password(actor, current_password, field="current_password")
    _validate_new_password(actor, new_password, field="new_password")
    actor.set_password(new_password)
    actor.save(update_fields=["password"])
    others = AuthToken.objects.filter(user=actor)
    if current_token is not None:
        others = others.exclude(digest=current_token.digest)
    others.delete()


@transaction.atomic
def account_verification_send(*, actor: User) -> bool:
    """Send the verification link again; False (nothing sent) if the email is verified."""
    if actor.email_verified_at is not None:
        return False
    account_email_queue(user=actor, kind=AccountEmailKind.EMAIL_VERIFICATION)
    return True


def _account_email_proven(user: User) -> int:
    """The person showed they read mail at the account's address: mark it verified and link
    the guest customer profiles with that address (unlinked ones, in any organization), so
    their earlier bookings appear in the account. Returns how many were linked."""
    if user.email_verified_at is None:
        user.email_verified_at = timezone.now()
        user.save(update_fields=["email_verified_at"])
    with platform_wide("email verified: the person's guest profiles wherever they booked"):
        return Customer.objects.filter(Customer.email_is(user.email), user__isnull=True).update(
            user=user
        )


@transaction.atomic
def account_email_verify(*, token: str) -> User:
    """Verify the account's email from the signed link sent to it (see _account_email_proven)."""
    user = verification_token_user(token)
    if user is None:
        raise InvalidLink("This verification link is not valid or has expired.")
    _account_email_proven(user)
    return user


@transaction.atomic
def account_password_reset_request(*, email: str) -> None:
    """Email a password reset link if an active account has this address; nothing otherwise,
    and the caller answers the same either way, so no one learns who has an account."""
    user = User.objects.filter(email=User.objects.normalize_email(email).lower()).first()
    if user is not None and user.is_active:
        account_email_queue(user=user, kind=AccountEmailKind.PASSWORD_RESET)


def _password_reset_user(uid: str, token: str) -> User:
    try:
        pk = int(urlsafe_base64_decode(uid).decode())
    except (ValueError, TypeError, OverflowError, UnicodeDecodeError):
        pk = None
    if pk is not None and not 0 < pk < 2**63:  # no id of ours; the database would refuse it
        pk = None
    user = User.objects.filter(pk=pk, is_active=True).first() if pk is not None else None
    if user is None or not default_token_generator.check_token(user, token):
        raise InvalidLink("This password reset link is not valid, was used, or has expired.")
    return user


@transaction.atomic
def account_password_reset_confirm(*, uid: str, token: str, new_password: str) -> User:
    """Set a new password from a reset link and sign out every device.

    Django's token is made from the password hash and the last sign-in, so it works once and
    no longer after a sign-in. Whoever holds it read mail at the account's address, which is
    the proof verification asks for: the email counts as verified.
    """
    user = _password_reset_user(uid, token)
    _validate_new_password(user, new_password, field="new_password")
    user.set_password(new_password)
    user.save(update_fields=["password"])
    AuthToken.objects.filter(user=user).delete()
    _account_email_proven(user)
    return user


@transaction.atomic
def account_delete(*, actor: User, password: str) -> None:
    """Erase the person (GDPR): their customer profiles are anonymised but the businesses keep
    the bookings; the user row is anonymised and deactivated rather than deleted, so every
    record that names it (who acted on a booking) stays valid; every token is revoked.

    Refused while they are the only owner of an organization: it would have no one to run it.
    Memberships go, except one a resource (their bookable time) still refers to: that stays
    for the schedule's history, powerless (an inactive user has no grants).
    """
    _check_password(actor, password, field="password")
    user = User.objects.select_for_update().get(pk=actor.pk)
    with platform_wide("account deletion: the person's rows in every organization"):
        memberships = list(
            Membership.objects.filter(user=user)
            .select_related("organization")
            .annotate(resource_count=Count("resources"))
            .order_by("organization_id")
        )
        owned = [m.organization_id for m in memberships if m.role == Role.OWNER]
        # The owners of those organizations, locked: two owners leaving at once must not both
        # see the other one staying.
        owners = list(
            Membership.objects.select_for_update(of=("self",))
            .filter(organization__in=owned, role=Role.OWNER, user__is_active=True)
            .order_by("pk")
            .values_list("organization_id", flat=True)
        )
        alone = [
            m for m in memberships if m.role == Role.OWNER and owners.count(m.organization_id) == 1
        ]
        if alone:
            raise LastOwner(
                "You are the only owner of an organization; make someone else an owner first.",
                organizations=[m.organization.slug for m in alone],
            )
        Membership.objects.filter(
            pk__in=[m.pk for m in memberships if m.resource_count == 0]
        ).delete()
        profiles = list(Customer.objects.filter(user=user).values_list("pk", flat=True))
        Customer.objects.filter(pk__in=profiles).update(
            full_name=DELETED_CUSTOMER_NAME,
            email="",
            email_index="",  # an update() skips save(), which keeps the indexes otherwise
            phone="",
            phone_index="",
            user=None,
        )
    user.email = f"deleted-{user.pk}@deleted.invalid"
    user.full_name = ""
    user.phone = ""
    user.is_active = False
    user.email_verified_at = None
    user.set_unusable_password()
    user.save(
        update_fields=["email", "full_name", "phone", "is_active", "email_verified_at", "password"]
    )
    AuthToken.objects.filter(user=user).delete()
    user.account_emails.all().delete()
    account_erased.send(sender=User, user=user, customer_ids=profiles)


def expired_tokens_delete() -> int:
    """Delete every API token past its expiry (an app signed out by time); how many went.

    Run hourly by Celery beat: the token check of each request only looks at its own token.
    """
    deleted, _ = AuthToken.objects.filter(expiry__lt=timezone.now()).delete()
    return deleted


# --- The staff's second factor (accounts/sign_in.py) ---------------------------------------------

SECOND_FACTOR_DEVICE_NAME = "Authenticator app"


@transaction.atomic
def second_factor_enrolment_start(*, actor: User) -> TOTPDevice:
    """The authenticator being set up: a new secret, or the one already shown to the person
    (so reloading the page does not void the QR code they scanned). It counts once confirmed."""
    device = TOTPDevice.objects.filter(user=actor, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(
            user=actor, name=SECOND_FACTOR_DEVICE_NAME, confirmed=False
        )
    return device


def second_factor_enrolment_confirm(*, actor: User, code: str) -> TOTPDevice:
    """Confirm the authenticator being set up with a code it shows: from then on the person
    gives a code at each sign-in.

    Not one transaction: a wrong code's count (django-otp's throttling, which makes each next
    try wait longer) must be kept although the confirmation is refused.
    """
    device = TOTPDevice.objects.filter(user=actor, confirmed=False).order_by("pk").first()
    if device is None:
        raise ValidationError({"code": "Start again: the setup of this authenticator expired."})
    if not device.verify_token(code):
        raise ValidationError({"code": "This is not the code your app shows; try the next one."})
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=actor, confirmed=False).delete()
    return device


def second_factor_reset(*, actor: User, membership: Membership) -> int:
    """Forget a member's authenticator (a lost or replaced phone): they set up a new one at
    their next sign-in. Returns the devices removed.

    A person has one authenticator for every organization they work for, so removing it lowers
    each of those doors until they enrol again: only someone who may change memberships in all
    of them (their owner) or a platform admin may do it. Recorded on each one's audit trail.
    """
    person = membership.user
    with platform_wide("second factor reset: every organization the person works for"):
        organization_ids = sorted(
            set(Membership.objects.filter(user=person).values_list("organization_id", flat=True))
        )
    may = roles.is_platform_admin(actor) or (
        not person.is_superuser  # a platform admin's door is every tenant's
        and bool(organization_ids)
        and all(
            (grant := roles.grants_of(actor).get(pk)) and grant.allows("accounts.change_membership")
            for pk in organization_ids
        )
    )
    if not may:
        raise PermissionDenied(
            f"{person} also works for an organization you do not own, or is a platform admin: "
            "a platform admin resets their second factor."
        )
    with transaction.atomic():
        removed, _ = TOTPDevice.objects.filter(user=person).delete()
        for organization_id in organization_ids:
            audit_record(
                actor=actor,
                action=AuditAction.SECOND_FACTOR_RESET,
                organization_id=organization_id,
                target=person,
                details={"user_id": person.pk, "devices": removed},
            )
    return removed

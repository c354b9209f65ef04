"""Users, the tenants (organizations) and the people who belong to them.

Every tenant-owned model derives from TenantModel: it carries its organization directly and its
default manager is scoped (accounts/tenancy.py), so a query outside a tenant scope raises.
"""

from datetime import timedelta
from typing import ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django_scopes import ScopedManager
from phonenumber_field.modelfields import PhoneNumberField
from timezone_field import TimeZoneField

from config.encryption import (
    BlindIndexedModel,
    BlindIndexField,
    EncryptedEmailField,
    EncryptedMixin,
    EncryptedPhoneNumberField,
    blind_index,
)


class LowercaseEmailField(models.EmailField):
    """An email stored and looked up in lower case, so uniqueness is case-insensitive."""

    def to_python(self, value):
        value = super().to_python(value)
        return value.lower() if isinstance(value, str) else value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return value.lower() if isinstance(value, str) else value

    def pre_save(self, model_instance, add):
        value = super().pre_save(model_instance, add)
        if isinstance(value, str) and value != value.lower():
            value = value.lower()
            setattr(model_instance, self.attname, value)  # the instance matches the row
        return value


class EncryptedLowercaseEmailField(EncryptedMixin, LowercaseEmailField):
    """A customer's email: lower-cased, then encrypted at rest (config/encryption.py)."""


def lowercase_email_constraint(model_name: str) -> models.CheckConstraint:
    """The database's guarantee that no write path stored a mixed-case email."""
    return models.CheckConstraint(
        condition=models.Q(email=Lower("email")), name=f"{model_name}_email_lowercase"
    )


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields) -> "User":
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)  # None sets an unusable password: an invited user
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> "User":
        fields.setdefault("is_superuser", True)
        return self.create_user(email, password, **fields)

    def get_by_natural_key(self, username: str) -> "User":
        return self.get(email=username.lower())


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with an email address. Roles come from memberships, not from here."""

    email = LowercaseEmailField(unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    phone = EncryptedPhoneNumberField(blank=True)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)
    # Set when the person opened a verification (or password reset) link sent to `email`: the
    # proof that the address is theirs, which linking guest bookings to the account needs.
    email_verified_at = models.DateTimeField(null=True, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"

    class Meta:
        constraints = [lowercase_email_constraint("user")]

    def __str__(self) -> str:
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class Currency(models.TextChoices):
    EUR = "EUR", "Euro"
    USD = "USD", "US dollar"
    GBP = "GBP", "Pound sterling"
    SEK = "SEK", "Swedish krona"
    NOK = "NOK", "Norwegian krone"
    DKK = "DKK", "Danish krone"
    CHF = "CHF", "Swiss franc"
    PLN = "PLN", "Polish złoty"
    CZK = "CZK", "Czech koruna"
    CAD = "CAD", "Canadian dollar"
    AUD = "AUD", "Australian dollar"


# First path segments the platform itself uses; an organization's booking pages live at /<slug>/.
RESERVED_SLUGS = frozenset({"admin", "api", "metrics", "static", "media", "health", "accounts"})


def validate_slug_not_reserved(value: str) -> None:
    if value in RESERVED_SLUGS:
        raise ValidationError(f"“{value}” is used by the platform itself; choose another slug.")


class Organization(models.Model):
    """The tenant: a business taking bookings on the platform."""

    slug = models.SlugField(unique=True, validators=[validate_slug_not_reserved])
    name = models.CharField(max_length=200)
    time_zone = TimeZoneField(default="UTC", help_text="Default for new locations.")
    currency = models.CharField(max_length=3, choices=Currency.choices, default=Currency.EUR)
    contact_email = models.EmailField(blank=True)
    contact_phone = PhoneNumberField(blank=True)
    cancellation_cutoff = models.DurationField(
        default=timedelta(hours=24),
        help_text="Customers may cancel or reschedule until this long before the start.",
    )
    reminder_lead_time = models.DurationField(
        default=timedelta(hours=24),
        help_text="Customers get a reminder email this long before their booking starts.",
    )
    brand_color = models.CharField(
        max_length=7,
        default="#0b57d0",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a colour like #0b57d0.")],
        help_text="The colour of the booking pages' header and buttons.",
    )
    staff_second_factor_required = models.BooleanField(
        "staff need a second factor",
        default=False,
        help_text="Staff enter a code from an authenticator app after their password to use "
        "the admin; those without one are asked to set it up when they next sign in.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def brand_text_color(self) -> str:
        """Black or white, whichever reads better on the brand colour (WCAG contrast)."""
        channels = [int(self.brand_color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
        # Contrast with white is 1.05 / (L + 0.05), with black (L + 0.05) / 0.05.
        return "#000000" if (luminance + 0.05) / 0.05 > 1.05 / (luminance + 0.05) else "#ffffff"


class TenantModel(models.Model):
    """A row owned by one organization, reachable only inside that organization's scope."""

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="%(class)ss"
    )

    objects = ScopedManager(organization="organization")

    # Path from this model to the Location it belongs to, for roles limited to some locations
    # (accounts/roles.py); None for rows that belong to the whole organization.
    tenant_location_path: ClassVar[str | None] = None
    # Path to the User whose own rows these are, for grants limited to one's own rows (a staff
    # member's own schedule); None where rows belong to no one in particular.
    tenant_owner_path: ClassVar[str | None] = None

    class Meta:
        abstract = True

    def clean(self) -> None:
        """Every tenant-owned row it points to belongs to its own organization."""
        super().clean()
        errors = {}
        for field in self._meta.concrete_fields:
            if not (field.is_relation and issubclass(field.related_model, TenantModel)):
                continue
            related = getattr(self, field.name, None)
            if related is not None and related.organization_id != self.organization_id:
                errors[field.name] = f"{related} belongs to another organization."
        if errors:
            raise ValidationError(errors)

    @classmethod
    def at_locations(cls, location_ids: frozenset[int]) -> models.Q | None:
        """Rows a member limited to these locations may reach; None if rows have no location."""
        if cls.tenant_location_path is None:
            return None
        return models.Q(**{f"{cls.tenant_location_path}__in": location_ids})


class Location(TenantModel):
    """A place where an organization serves customers, with its own time zone."""

    name = models.CharField(max_length=200)
    slug = models.SlugField()
    street_address = models.CharField(max_length=200)
    postal_code = models.CharField(max_length=20)
    city = models.CharField(max_length=100)
    country = models.CharField(
        max_length=2,
        validators=[RegexValidator(r"^[A-Z]{2}$", "Use the ISO 3166 two-letter country code.")],
    )
    time_zone = TimeZoneField()
    phone = PhoneNumberField(blank=True)

    tenant_location_path = "pk"

    class Meta:
        ordering = ["organization", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "slug"], name="location_slug_unique_per_organization"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    """A member's role in one organization. What each role may do lives in accounts/roles.py."""

    OWNER = "owner", "Owner"
    MANAGER = "manager", "Location manager"
    STAFF = "staff", "Staff member"


class Membership(TenantModel):
    """A user working for an organization in one role, optionally limited to some locations."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    # An explicit flag rather than "no locations means all": deleting the last location of a
    # limited member must narrow what they see, never widen it to the whole organization.
    limited_to_locations = models.BooleanField(
        default=False, help_text="Work only at the locations chosen below."
    )
    locations = models.ManyToManyField(Location, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization", "user__email"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user"], name="one_membership_per_user_and_organization"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user}, {self.get_role_display()} at {self.organization}"

    @classmethod
    def at_locations(cls, location_ids: frozenset[int]) -> models.Q:
        """Colleagues at these locations: members of the whole organization, and members
        limited to at least one of them (a subquery, so the many-to-many join adds no rows)."""
        linked = cls.locations.through.objects.filter(location_id__in=location_ids)
        return models.Q(limited_to_locations=False) | models.Q(
            pk__in=linked.values("membership_id")
        )


class Customer(BlindIndexedModel, TenantModel):
    """Someone who books with an organization; an account is optional (guests book by email).

    A walk-in booked at the desk may give only a name and a phone number, so email is optional
    here (the booking pages and the API always ask for it). Email and phone are encrypted at
    rest and found through their blind indexes (`email_is`, `phone_is`; config/encryption.py).
    """

    full_name = models.CharField(max_length=200)
    email = EncryptedLowercaseEmailField(blank=True)
    email_index = BlindIndexField(source="email", kind="email")
    phone = EncryptedPhoneNumberField(blank=True)
    phone_index = BlindIndexField(source="phone", kind="phone")
    user = models.ForeignKey(
        User,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="customer_profiles",
        help_text="The account this customer signs in with, if they have one.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization", "full_name"]
        constraints = [
            # Through the blind index: the same email always hashes alike, its ciphertexts never.
            models.UniqueConstraint(
                fields=["organization", "email_index"],
                condition=~Q(email_index=""),
                name="one_customer_per_email_and_organization",
                violation_error_message="This organization already has a customer with this email.",
            ),
        ]
        indexes = [
            # Linking an account's verified email to its guest profiles in every organization.
            models.Index(fields=["email_index"], name="customer_email_index"),
            models.Index(fields=["organization", "phone_index"], name="customer_phone_index"),
        ]

    def __str__(self) -> str:
        # The name only: a string of a row is stored in clear elsewhere (the admin's log).
        return self.full_name

    @staticmethod
    def email_is(email: str, *, path: str = "") -> Q:
        """Rows whose customer (at `path`, e.g. "customer__") has this email however cased;
        none for an empty one."""
        index = blind_index("email", email)
        return Q(**{f"{path}email_index": index}) if index else Q(pk__in=[])

    @staticmethod
    def phone_is(phone: object, *, path: str = "") -> Q:
        """Rows whose customer has this phone number however typed (national numbers in
        PHONENUMBER_DEFAULT_REGION); none for a value that is no valid number."""
        index = blind_index("phone", phone)
        return Q(**{f"{path}phone_index": index}) if index else Q(pk__in=[])


class EmailStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (gave up retrying)"


class AccountEmailKind(models.TextChoices):
    EMAIL_VERIFICATION = "verification", "Email verification"
    PASSWORD_RESET = "password_reset", "Password reset"
    STAFF_INVITATION = "invitation", "Staff invitation"


class AccountEmailQuerySet(models.QuerySet):
    def due(self) -> "AccountEmailQuerySet":
        """Pending emails whose claim ran out (`next_attempt_at`, accounts.outbox): the task
        queued at the commit, a retry or a send was lost (a broker down, a worker killed)."""
        return self.filter(
            status=EmailStatus.PENDING, next_attempt_at__lte=timezone.now()
        ).order_by("next_attempt_at")


class AccountEmail(models.Model):
    """An email to a person about their account: the accounts app's transactional outbox.

    Written in the transaction that asks for it (sign-up, a reset request), sent by a Celery
    task after the commit (accounts/tasks.py), like the booking emails. Unlike them, the body is
    rendered when it is sent, not stored: it carries a sign-in-strength link (a reset token),
    and a table of such links would be a table of keys to accounts.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="account_emails")
    kind = models.CharField(max_length=16, choices=AccountEmailKind.choices)
    to = EncryptedEmailField()
    status = models.CharField(
        max_length=8, choices=EmailStatus.choices, default=EmailStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = AccountEmailQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="account_email_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.to}"


class AuditAction(models.TextChoices):
    """What a member of staff did to personal data. Reading a list names the rows it showed."""

    CUSTOMER_LISTED = "customer_listed", "Listed customers"
    CUSTOMER_VIEWED = "customer_viewed", "Viewed a customer"
    CUSTOMER_HISTORY_VIEWED = "customer_history_viewed", "Viewed a customer's history"
    CUSTOMER_EXPORTED = "customer_exported", "Exported customers"
    CUSTOMER_ADDED = "customer_added", "Added a customer"
    CUSTOMER_CHANGED = "customer_changed", "Changed a customer"
    CUSTOMER_DELETED = "customer_deleted", "Deleted a customer"
    BOOKING_CHANGED = "booking_changed", "Changed a booking"
    MEMBERSHIP_ADDED = "membership_added", "Added a member"
    MEMBERSHIP_CHANGED = "membership_changed", "Changed a member's role"
    MEMBERSHIP_REMOVED = "membership_removed", "Removed a member"
    SECOND_FACTOR_RESET = "second_factor_reset", "Reset a member's second factor"


class AuditEntry(TenantModel):
    """One access by staff to personal data: who, what, from where and when (accounts/audit.py).

    Append-only: PostgreSQL refuses to update or delete a row (migration 0008's trigger), and
    the admin offers neither. Rows name people and records by id only, never by email or phone:
    an erased customer leaves no copy of their details here.
    """

    actor = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    # What was touched ("accounts.customer", 12); a list leaves the id empty and names the rows
    # it showed in `details`.
    target_type = models.CharField(max_length=64)
    target_id = models.BigIntegerField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)
    address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(
                fields=["organization", "-created_at"], name="audit_entry_by_organization"
            ),
            models.Index(fields=["target_type", "target_id"], name="audit_entry_by_target"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} #{self.target_id or '-'} by user {self.actor_id}"

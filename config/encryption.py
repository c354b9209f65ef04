"""Personal data encrypted at rest, and found again through keyed hashes (the kit: no app here).

A customer's email, phone, notes and anything else they write is stored as a Fernet token
(AES-128-CBC with an HMAC-SHA256 tag: a token altered in the database is refused, not misread).
`FIELD_ENCRYPTION_KEYS` lists the keys: the first encrypts, every one decrypts, so a key is
rotated by putting a new one first, running `manage.py reencrypt_personal_data`, then dropping
the old one (docs/operations.md).

A ciphertext cannot be searched, so each value that is looked up (a customer's email, phone)
has a blind index beside it: HMAC-SHA256 of its normalized form under `BLIND_INDEX_KEY`, a
separate key, so the index column can be unique and indexed without revealing the value.
Rotating the blind index key means recomputing every index (not needed for a field key).
"""

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import FieldError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.signals import setting_changed
from django.db import connections, models, transaction
from django.db.models.lookups import Exact, IsNull
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from phonenumber_field.modelfields import PhoneNumberField
from phonenumber_field.phonenumber import to_python as phone_to_python
from rest_framework import status

from config.api.errors import DomainError, error_body

log = logging.getLogger(__name__)


class UnreadableCiphertext(DomainError):
    """A stored value failed its authentication tag: altered in the database, or encrypted
    with a key no longer in FIELD_ENCRYPTION_KEYS. Nothing is shown rather than a guess."""

    code = "unreadable_personal_data"
    status_code = status.HTTP_409_CONFLICT


@cache
def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.FIELD_ENCRYPTION_KEYS])


@receiver(setting_changed)
def _forget_keys(*, setting: str, **kwargs) -> None:
    """Tests rotate keys with override_settings; the next value must use the new ones."""
    if setting == "FIELD_ENCRYPTION_KEYS":
        _fernet.cache_clear()


def encrypt(text: str) -> str:
    return _fernet().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        log.error("a stored value failed its authentication (altered, or an unknown key)")
        raise UnreadableCiphertext(
            "Some personal data of this record cannot be read: it was altered in the database "
            "or encrypted with a key this server no longer has."
        ) from None


def rotated(token: str) -> str:
    """The same value encrypted with the newest key (a token that fails is refused)."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise UnreadableCiphertext("A stored value cannot be decrypted with any key.") from None


# --- Blind indexes ------------------------------------------------------------------------------


def normalized_email(value: str) -> str:
    return value.strip().lower()


def normalized_phone(value: object) -> str:
    """E.164 ("+358401234567") for a number however it was typed ("040 123 4567" in the
    default region); "" when it is no valid number, so nothing matches it."""
    number = phone_to_python(value, region=settings.PHONENUMBER_DEFAULT_REGION)
    if not number or not number.is_valid():
        return ""
    return number.as_e164


NORMALIZERS: dict[str, Callable[[object], str]] = {
    "email": lambda value: normalized_email(str(value)),
    "phone": normalized_phone,
}


def blind_index(kind: str, value: object) -> str:
    """The keyed hash a `kind` ("email", "phone") of value is found by; "" for no value.
    The kind is hashed too, so an email and a phone never share an index."""
    normalized = NORMALIZERS[kind](value) if value else ""
    if not normalized:
        return ""
    message = f"{kind}:{normalized}".encode()
    return hmac.new(settings.BLIND_INDEX_KEY.encode(), message, hashlib.sha256).hexdigest()


class BlindIndexField(models.CharField):
    """The blind index of another field of the same row, recomputed on every save.

    The model saves it with its source even under `save(update_fields=[source])`
    (BlindIndexedModel), so the two never disagree.
    """

    def __init__(self, *args, source: str, kind: str, **kwargs) -> None:
        self.source = source
        self.kind = kind
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        for default in ("max_length", "editable", "blank", "default"):
            kwargs.pop(default, None)
        return name, path, args, {**kwargs, "source": self.source, "kind": self.kind}

    def pre_save(self, model_instance: models.Model, add: bool) -> str:
        index = blind_index(self.kind, getattr(model_instance, self.source))
        setattr(model_instance, self.attname, index)
        return index


class BlindIndexedModel(models.Model):
    """A model with blind indexes: saving a source field saves its index too."""

    class Meta:
        abstract = True

    def save(self, *args, update_fields=None, **kwargs) -> None:
        if update_fields is not None:
            indexes = {f.name for f in self._blind_index_fields() if f.source in update_fields}
            update_fields = [*update_fields, *indexes]
        super().save(*args, update_fields=update_fields, **kwargs)

    def validate_constraints(self, exclude=None) -> None:
        """A unique constraint over an index (one customer per email) is checked against the
        index of the value as it is now; a form that edits the source checks it too, though
        the index itself is no form field."""
        for field in self._blind_index_fields():
            field.pre_save(self, add=False)
            if exclude and field.source not in exclude:
                exclude = set(exclude) - {field.name}
        super().validate_constraints(exclude=exclude)

    def _blind_index_fields(self) -> list[BlindIndexField]:
        return [f for f in self._meta.concrete_fields if isinstance(f, BlindIndexField)]


# --- Encrypted fields ---------------------------------------------------------------------------


class EmptyOnlyExact(Exact):
    """`field=""` (has no value) still works; any other value cannot match a ciphertext."""

    def get_prep_lookup(self):
        if self.rhs != "":
            raise FieldError(
                f"{self.lhs.output_field.name} is encrypted: look it up by its blind index."
            )
        return self.rhs

    def get_db_prep_lookup(self, value, connection):
        return ("%s", [value])


class EncryptedMixin:
    """Stores the field's value (as its own field would store it: an email lower-cased, a phone
    as E.164) encrypted; reads it back decrypted. "" stays "", so blankness is still visible
    and queryable; every other lookup is refused, as it could only ever match nothing."""

    def get_internal_type(self) -> str:
        return "TextField"  # a token is longer than the clear value's max_length

    def get_lookup(self, lookup_name: str):
        if lookup_name == "exact":
            return EmptyOnlyExact
        if lookup_name == "isnull":
            return IsNull
        return None

    def get_db_prep_value(self, value, connection, prepared=False):
        if not prepared:
            value = self.get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return self.to_python(decrypt(value))


class EncryptedTextField(EncryptedMixin, models.TextField):
    """Free text a customer wrote (booking notes, a review), encrypted at rest."""


class EncryptedCharField(EncryptedMixin, models.CharField):
    """A short text a customer wrote (a cancellation's reason); max_length bounds the clear text."""


class EncryptedEmailField(EncryptedMixin, models.EmailField):
    """An email address encrypted at rest."""


class EncryptedPhoneNumberField(EncryptedMixin, PhoneNumberField):
    """A phone number (E.164) encrypted at rest."""


class EncryptedJSONField(EncryptedMixin, models.TextField):
    """A JSON document (an email's snapshot of a booking) stored as one encrypted text: read
    and written whole, never queried inside."""

    def get_prep_value(self, value):
        return None if value is None else json.dumps(value, cls=DjangoJSONEncoder)

    def from_db_value(self, value, expression, connection):
        return None if value is None else json.loads(decrypt(value))

    def to_python(self, value):
        return value

    def value_to_string(self, obj) -> str:
        return json.dumps(self.value_from_object(obj), cls=DjangoJSONEncoder)


def encrypted_columns(model: type[models.Model]) -> list[str]:
    return [
        field.column for field in model._meta.concrete_fields if isinstance(field, EncryptedMixin)
    ]


# --- Whole tables: the data migration and key rotation ------------------------------------------


def rewrite_rows(
    table: str,
    columns: list[str],
    rewrite: Callable[[list], list],
    *,
    written: list[str] | None = None,
    batch_size: int = 500,
    using: str = "default",
) -> int:
    """Every row's `columns` passed to `rewrite`, whose answer is stored in `written` (the same
    columns unless named); rows with no value at all are left alone. Returns the rows rewritten.

    Raw SQL on purpose: a model's fields would decrypt, which neither a migration from clear
    text nor a rotation (which needs no clear text) wants. One transaction per batch, its rows
    locked from read to write (a change made meanwhile by the site is never overwritten by
    the value read before it), so a big table is never locked whole.
    """
    quote = connections[using].ops.quote_name
    select = (
        f"SELECT {', '.join(quote(column) for column in ['id', *columns])} "
        f"FROM {quote(table)} WHERE id > %s ORDER BY id LIMIT %s FOR UPDATE"
    )
    assignments = ", ".join(f"{quote(column)} = %s" for column in written or columns)
    update = f"UPDATE {quote(table)} SET {assignments} WHERE id = %s"
    rewritten, last = 0, 0
    while True:
        with transaction.atomic(using=using), connections[using].cursor() as cursor:
            cursor.execute(select, [last, batch_size])
            rows = cursor.fetchall()
            if not rows:
                return rewritten
            last = rows[-1][0]
            changed = []
            for pk, *values in rows:
                if not any(values):
                    continue  # nothing to encrypt, and the indexes of nothing are "" already
                try:
                    changed.append([*rewrite(values), pk])
                except UnreadableCiphertext as error:
                    log.error("%s row %s: a value cannot be decrypted with any key", table, pk)
                    raise UnreadableCiphertext(f"{table} row {pk}: {error.message}") from None
            if changed:
                cursor.executemany(update, changed)
            rewritten += len(changed)


def each_value(change: Callable[[str], str]) -> Callable[[list], list]:
    """`change` applied to every non-empty value of a row ("" and NULL stay)."""
    return lambda values: [change(value) if value else value for value in values]


def reencrypt_everything(*, batch_size: int = 500) -> dict[str, int]:
    """Every encrypted value of every model re-encrypted with the newest key: after it, the
    older keys can leave FIELD_ENCRYPTION_KEYS. Rows per table, by model label."""
    from django.apps import apps

    done = {}
    for model in apps.get_models():
        columns = encrypted_columns(model)
        if columns and model._meta.managed and not model._meta.proxy:
            done[model._meta.label] = rewrite_rows(
                model._meta.db_table, columns, each_value(rotated), batch_size=batch_size
            )
    return done


# --- Answering a refused value ------------------------------------------------------------------


class UnreadableCiphertextMiddleware:
    """Pages and the admin answer an unreadable value with its 409 and a sentence, not a 500;
    the API does the same through its exception handler (a DomainError)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception):
        if not isinstance(exception, UnreadableCiphertext):
            return None
        if request.path_info.startswith("/api/"):
            return JsonResponse(
                error_body(exception.code, exception.message), status=exception.status_code
            )
        return render(
            request,
            "unreadable.html",
            {"message": exception.message},
            status=exception.status_code,
        )

"""The API kit's one table: the first answer to each Idempotency-Key (config.api.idempotency)."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from config.encryption import EncryptedJSONField

# How long an API client may retry a request with the same Idempotency-Key.
IDEMPOTENCY_KEY_LIFETIME = timedelta(hours=24)


class IdempotencyRecordQuerySet(models.QuerySet):
    def expired(self) -> "IdempotencyRecordQuerySet":
        return self.filter(created_at__lt=timezone.now() - IDEMPOTENCY_KEY_LIFETIME)


class IdempotencyRecord(models.Model):
    """The first answer to an API request that carried an `Idempotency-Key`.

    Written in the same transaction as the change it answers, so a retry finds either nothing
    (the change did not happen) or the answer of the change that did.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(
        max_length=64, help_text="SHA-256 of method, path, body."
    )
    response_status = models.PositiveSmallIntegerField(null=True)
    # Encrypted: a booking's answer names its customer (email, phone, notes).
    response_body = EncryptedJSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = IdempotencyRecordQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="one_idempotency_key_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"

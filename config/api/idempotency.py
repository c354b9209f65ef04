"""`Idempotency-Key` on the POSTs that create or change a booking: a retry never books twice.

The key is claimed by inserting an IdempotencyRecord in the same transaction as the change. A
concurrent retry's insert waits on the unique index until the first transaction ends: if it
committed, the retry gets its stored answer; if it rolled back, the retry runs the change itself.
Only successful answers are stored, so a request refused (409 slot_taken...) may be retried.
A key is remembered for IDEMPOTENCY_KEY_LIFETIME; config.api.tasks purges older ones hourly.

The layer is one unit: the record (config.api.models), this decorator, its error and the purge
task (config.api.tasks).
"""

import functools
import hashlib
import json

from django.db import connection, transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.models import IdempotencyRecord
from config.database import atomic_with_retry

HEADER = "Idempotency-Key"


class IdempotencyKeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"
    default_detail = "This Idempotency-Key was used for a different request."


IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    HEADER,
    # What _valid_key accepts: 1 to 255 printable ASCII characters (space to tilde).
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
    OpenApiParameter.HEADER,
    description=(
        "Any unique string of 1 to 255 printable ASCII characters (a UUID). A retry with "
        "the same key and body gets the first answer again, with `Idempotent-Replayed: "
        "true`; the same key with another body is refused with 422 idempotency_key_reused."
    ),
)


def _fingerprint(request: Request) -> str:
    canonical = json.dumps(
        [request.method, request.path, request.data], sort_keys=True, default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _valid_key(request: Request) -> str | None:
    key = request.headers.get(HEADER)
    if key is not None and not (0 < len(key) <= 255 and key.isprintable() and key.isascii()):
        raise ValidationError({HEADER: "Use 1 to 255 printable ASCII characters."})
    return key


def idempotent(handler):
    """Decorates an APIView's `post`: replays the first answer to a repeated Idempotency-Key."""

    @extend_schema(parameters=[IDEMPOTENCY_KEY_PARAMETER])
    @functools.wraps(handler)
    def post(view, request: Request, *args, **kwargs) -> Response:
        key = _valid_key(request)
        if key is None:
            return handler(view, request, *args, **kwargs)
        fingerprint = _fingerprint(request)

        # The change and its record are one transaction, run again whole if PostgreSQL aborts
        # it as a deadlock or serialization failure: the key is claimed afresh each time.
        @atomic_with_retry
        def claim_and_change() -> Response:
            record_id = _claim(request.user, key, fingerprint)
            if record_id is None:
                return _replay(
                    IdempotencyRecord.objects.get(user=request.user, key=key), fingerprint
                )

            response = handler(view, request, *args, **kwargs)
            if not 200 <= response.status_code < 300:
                transaction.set_rollback(True)
                return response
            IdempotencyRecord.objects.filter(pk=record_id).update(
                response_status=response.status_code,
                response_body=json.loads(JSONRenderer().render(response.data)),
            )
            return response

        return claim_and_change()

    return post


def _claim(user, key: str, fingerprint: str) -> int | None:
    """The id of the key's new record; None if a live one holds it.

    One INSERT ... ON CONFLICT DO NOTHING, no savepoint around it: a concurrent claim of the
    same key waits on the unique index for the other transaction and then either inserts (it
    rolled back) or finds the key taken (it committed). A record past its lifetime (the hourly
    purge has not reached it yet) gives the key up: the rare path pays for that, not every
    request.
    """
    record_id = _insert_unless_taken(user, key, fingerprint)
    if (
        record_id is None
        and IdempotencyRecord.objects.expired().filter(user=user, key=key).delete()[0]
    ):
        record_id = _insert_unless_taken(user, key, fingerprint)
    return record_id


def _insert_unless_taken(user, key: str, fingerprint: str) -> int | None:
    table = IdempotencyRecord._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{table}" (user_id, key, request_fingerprint, created_at) '
            "VALUES (%s, %s, %s, %s) ON CONFLICT (user_id, key) DO NOTHING RETURNING id",
            [user.pk, key, fingerprint, timezone.now()],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _replay(record: IdempotencyRecord, fingerprint: str) -> Response:
    if record.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    return Response(
        record.response_body,
        status=record.response_status,
        headers={"Idempotent-Replayed": "true"},
    )

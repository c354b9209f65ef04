"""One error format for the whole API: `{"error": {"code", "message", "details"}}`.

`DomainError` is the base of every refusal a service raises. Each subclass carries its own
machine-readable `code` and HTTP `status_code`, so the booking pages and the API answer the same
refusal with the same status. DRF's own exceptions keep their codes (`not_found`,
`not_authenticated`, `throttled`...); invalid input is `validation_error` with the messages per
field in `details`.
"""

import sys

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.template import loader
from django.views import defaults
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.database import MESSAGES, RETRY_AFTER_SECONDS, database_fault


class DomainError(Exception):
    """A rule of the domain refused the request.

    `code` is machine-readable; `status_code` is what pages and API answer: 409 when the data
    changed under the caller (reloading and choosing again helps), 422 when a well-formed
    request can never succeed as asked at that time (a booking rule refuses it), 400 when the
    request itself does not describe anything that could succeed.
    """

    code = "domain_error"
    status_code = status.HTTP_400_BAD_REQUEST

    # Every refusal the apps define, so the schema can list each code under its status without
    # the kit importing the apps above it (config.api.schema).
    kinds: list[type["DomainError"]] = []

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        DomainError.kinds.append(cls)

    def __init__(self, message: str, **details) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if database_fault(exc):
        # Not handled here: config.database.DatabaseFaultMiddleware retries a read once, then
        # answers 503 database_busy / database_unavailable (database_fault_response).
        return None
    if isinstance(exc, DomainError):
        return Response(
            error_body(exc.code, exc.message, exc.details),
            status=exc.status_code,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    elif isinstance(exc, DjangoValidationError):
        # A model's own validation (full_clean) speaks for the same fields as a serializer.
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django answers 500 and logs it
    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        if "__all__" in details:  # a Django form's (django-filter's) errors of no single field
            details = {**details, "non_field_errors": details["__all__"]}
            del details["__all__"]
        response.data = error_body(
            "validation_error", "Some of the input is not valid; see details.", details
        )
    else:
        code = getattr(exc.detail, "code", None) or exc.default_code
        details = {"retry_after_seconds": exc.wait} if isinstance(exc, exceptions.Throttled) else {}
        response.data = error_body(code, str(exc.detail), details)
    return response


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable, e.g. slot_taken, not_found.")
    message = serializers.CharField(help_text="For people; may change between versions.")
    details = serializers.DictField(
        help_text="Per-field messages for validation_error; other context otherwise."
    )


class ErrorSerializer(serializers.Serializer):
    """The body of every 4xx answer."""

    error = ErrorDetailSerializer()


def _is_api(request) -> bool:
    return request.path_info.startswith("/api/")


def not_found(request, exception: Exception | None = None):
    """handler404: under /api/ a 404 raised outside DRF (an unknown organization in the tenant
    middleware, an unknown URL) gets the API's error body too."""
    if _is_api(request):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    return defaults.page_not_found(request, exception)


def database_fault_response(request, fault: str) -> HttpResponse:
    """503 with Retry-After: the API's error body under /api/, the 503 page elsewhere."""
    seconds = RETRY_AFTER_SECONDS[fault]
    if _is_api(request):
        response = JsonResponse(
            error_body(fault, MESSAGES[fault], {"retry_after_seconds": seconds}), status=503
        )
    else:
        page = loader.render_to_string("503.html", {"message": MESSAGES[fault]})
        response = HttpResponse(page, status=503)
    response["Retry-After"] = str(seconds)
    response.database_fault = fault  # read by DatabaseFaultMiddleware: a read may run again
    return response


def server_error(request):
    """handler500: even a bug answers an API client in the API's format. A database that
    failed to answer before any view ran (the tenant lookup) is a 503, not a bug."""
    if fault := database_fault(sys.exc_info()[1]):
        return database_fault_response(request, fault)
    if _is_api(request):
        return JsonResponse(
            error_body("server_error", "Something went wrong on our side."), status=500
        )
    return defaults.server_error(request)

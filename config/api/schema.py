"""The OpenAPI schema: drf-spectacular, plus the error answers every operation may give."""

import inspect

from drf_spectacular import generators, openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.permissions import AllowAny

from config.api.errors import DomainError, ErrorSerializer
from config.api.storable import STORABLE_TEXT_PATTERN
from config.row_security import platform_wide

# What each error status means, before the codes of the refusals that answer with it.
ERROR_STATUSES = {
    400: (
        "Bad input: `validation_error`, with the messages per field in `details`. Besides what "
        "this schema forbids, input it allows can still be refused when a rule spans fields "
        "(`date_to` before `date_from`, `ends_at` not after `starts_at`, both `car` and "
        "`resource`) or the input is wrong rather than malformed (a password, a link's token, "
        "an email address already signed up)."
    ),
    401: "`not_authenticated` or `authentication_failed`: no token, or a bad one.",
    403: "`permission_denied`: the token's user may not do this here.",
    404: "`not_found`: no such row, or one out of the caller's reach.",
    409: "A conflict with other data: reload and choose again.",
    422: (
        "Well formed, but refused as asked at that time; `idempotency_key_reused`: this "
        "Idempotency-Key was used for a different request."
    ),
    429: "`throttled`: wait `details.retry_after_seconds`.",
    503: (
        "`database_busy` (the data is locked for a moment) or `database_unavailable` (the "
        "database is restarting): wait the `Retry-After` header's seconds (also in "
        "`details.retry_after_seconds`) and send the same request again; a write with the same "
        "Idempotency-Key is made at most once."
    ),
}


def error_description(status_code: int) -> str:
    """The status's meaning, then every domain error code it answers with and when."""
    lines = [ERROR_STATUSES[status_code]]
    for kind in sorted(DomainError.kinds, key=lambda kind: kind.code):
        if kind.status_code == status_code:
            when = " ".join((inspect.getdoc(kind) or "").split("\n\n")[0].split())
            lines.append(f"- `{kind.code}`: {when}")
    return "\n".join(lines)


class AutoSchema(openapi.AutoSchema):
    """Documents the shared error body under each status an operation can answer with."""

    def _error_statuses(self) -> list[int]:
        # bad input, bad token, unknown organization, throttled, the database busy or restarting
        statuses = [400, 401, 404, 429, 503]
        if any(not isinstance(p, AllowAny) for p in self.view.get_permissions()):
            statuses.append(403)
        if self.method in ("POST", "PATCH", "PUT", "DELETE"):
            statuses += [409, 422]  # a conflict with the data; an Idempotency-Key reused
        return statuses

    def _get_response_bodies(self, direction: str = "response") -> dict:
        responses = super()._get_response_bodies(direction)
        for status_code in map(str, self._error_statuses()):
            if status_code not in responses:
                response = self._get_response_for_code(ErrorSerializer, status_code)
                responses[status_code] = {
                    **response,
                    "description": error_description(int(status_code)),
                }
        return responses


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A token from POST /api/v1/auth/token/ or /api/v1/auth/signup/.",
        }


class SchemaGenerator(generators.SchemaGenerator):
    """Reads the views outside any request: their querysets are asked only for their model, so
    the tenant wall is lowered for that (no row is read)."""

    def get_schema(self, request=None, public=False):
        with platform_wide("API schema: querysets asked for their model only"):
            return super().get_schema(request=request, public=public)


def _storable(schema: dict) -> None:
    """Free text (no format, pattern or choices of its own) says what StrictJSONParser and
    StorableTextMiddleware refuse: NUL and lone UTF-16 surrogates."""
    if schema.get("type") == "string" and not schema.keys() & {"format", "pattern", "enum"}:
        schema["pattern"] = STORABLE_TEXT_PATTERN


def _comma_list_not_empty(parameter: dict) -> None:
    """A comma-separated list (`?ordering=price,-rating`) with no entry would be `?ordering=`,
    the same bytes as a list of one empty entry: the server refuses both, so the schema asks
    for at least one."""
    schema = parameter.get("schema", {})
    if schema.get("type") == "array" and parameter.get("explode") is False:
        schema["minItems"] = 1


def strict_input(result: dict, generator, request, public) -> dict:
    """Postprocessing: the schema states input as strictly as the server reads it. A request
    body is the fields it names (RequestBody refuses any other), and
    free text in bodies and parameters cannot hold what PostgreSQL cannot store."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and component.get("type") == "object":
            component["additionalProperties"] = False
            for field in component.get("properties", {}).values():
                _storable(field)
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                _storable(parameter.get("schema", {}))
                _comma_list_not_empty(parameter)
    return result

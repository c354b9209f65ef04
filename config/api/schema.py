"""The OpenAPI schema: drf-spectacular, plus the error answers every operation may give."""

from django_scopes import scopes_disabled
from drf_spectacular import generators, openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.permissions import AllowAny

from config.api.errors import ErrorSerializer


class AutoSchema(openapi.AutoSchema):
    """Documents the shared error body under each status an operation can answer with."""

    def _error_statuses(self) -> list[int]:
        statuses = [400, 401, 404, 429]  # bad input, bad token, unknown organization, throttled
        if any(not isinstance(p, AllowAny) for p in self.view.get_permissions()):
            statuses.append(403)
        if self.method in ("POST", "PATCH", "PUT", "DELETE"):
            statuses += [409, 422]  # a conflict with the data; an Idempotency-Key reused
        return statuses

    def _get_response_bodies(self, direction: str = "response") -> dict:
        responses = super()._get_response_bodies(direction)
        for status_code in map(str, self._error_statuses()):
            responses.setdefault(
                status_code, self._get_response_for_code(ErrorSerializer, status_code)
            )
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
        with scopes_disabled():
            return super().get_schema(request=request, public=public)

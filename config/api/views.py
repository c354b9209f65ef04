"""The base of every view under /api/v1/organizations/<slug>/ (Sentry's OrganizationEndpoint).

The tenant middleware has already loaded the organization (404 if unknown), put it on
`request.organization` and entered its scope, so handlers never see the slug. Each view declares
who may call it in `required_permission`: PUBLIC, SIGNED_IN, or a permission of the role table
(accounts/roles.py), checked against the URL's organization; which rows the caller then reaches
is `permitted()`'s job.
"""

from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.views import APIView

from config.replicas import on_replica

PUBLIC = "public"
SIGNED_IN = "signed_in"


class HasOrganizationPermission(BasePermission):
    """Allows members whose role in the URL's organization grants the view's
    `required_permission`."""

    def has_permission(self, request, view) -> bool:
        organization = getattr(request, "organization", None)
        return organization is not None and request.user.has_perm(
            view.required_permission, organization
        )


class OrganizationEndpoint(APIView):
    """An API view in the organization of its URL; subclasses set `required_permission`.

    `stale_reads_ok`: its GETs may read from a streaming replica (config/replicas.py): the
    catalogue, availability and reports, where a second of lag is harmless.
    """

    required_permission: str
    stale_reads_ok = False

    def get_permissions(self) -> list[BasePermission]:
        if self.required_permission == PUBLIC:
            return [AllowAny()]
        if self.required_permission == SIGNED_IN:
            return [IsAuthenticated()]
        return [IsAuthenticated(), HasOrganizationPermission()]

    def dispatch(self, request, *args, **kwargs):
        kwargs.pop("organization_slug", None)  # request.organization says it, scoped
        if self.stale_reads_ok and request.method in ("GET", "HEAD"):
            return on_replica(super().dispatch, request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)

from rest_framework.permissions import BasePermission


class HasOrganizationRole(BasePermission):
    """Allows members whose role in the URL's organization grants the view's
    `required_permission` (accounts/roles.py); which rows they reach is `permitted()`'s job."""

    def has_permission(self, request, view) -> bool:
        organization = getattr(request, "organization", None)
        return organization is not None and request.user.has_perm(
            view.required_permission, organization
        )

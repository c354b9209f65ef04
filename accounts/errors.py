"""The accounts app's refusals; the API and pages answer each with its code and status."""

from rest_framework import status

from config.api.errors import DomainError


class InvalidLink(DomainError):
    """A verification or password reset link that was forged, altered, used up or expired."""

    code = "invalid_link"
    status_code = status.HTTP_400_BAD_REQUEST


class LastOwner(DomainError):
    """The account is the only owner of an organization, which must keep one."""

    code = "last_owner"
    status_code = status.HTTP_409_CONFLICT

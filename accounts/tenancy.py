"""The tenant wall: every query on a tenant-owned model runs inside an organization scope.

Tenant-owned models (accounts.models.TenantModel) use django-scopes' ScopedManager, whose
querysets raise ScopeError unless a scope is active. Scopes are entered in exactly four places:

* TenantScopeMiddleware, once per request: the organization named in the URL for pages and API
  (`organization_slug`), or, in the admin, the organizations the signed-in user belongs to;
* the API's /me/bookings/ views (bookings.api.customer.AccountBookingsView): a customer's own
  bookings span organizations, so once the token is checked they enter the scope of the
  organizations the user booked with;
* OrganizationTask, for Celery tasks, from their `organization_id` argument;
* code that must look across tenants on purpose (platform-wide commands, the platform admin,
  the roles module's own membership lookup, the email outbox sweep) goes through the one
  audited path, `platform_wide(reason)` (config/row_security.py), which logs its reason.
  django-scopes' own switch is used nowhere else in the app (tests/test_architecture.py).

Any other query on tenant data fails loudly instead of leaking another tenant's rows. Behind
this wall stands the database's own (config/row_security.py): each transaction runs as an app
role that sees only the rows of its scope's organizations, whatever the SQL.
"""

from contextlib import AbstractContextManager

import celery
from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django_scopes import scope
from django_scopes.manager import DisabledQuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Organization, TenantModel
from accounts.roles import grants_of, is_platform_admin
from config.api.fields import ID_SCHEMA, StrictIdMixin
from config.row_security import platform_wide

ORGANIZATION_URL_KWARG = "organization_slug"


def organization_scope(organization: Organization | int | list[int]) -> AbstractContextManager:
    """The scope of one organization's data (or of several, given their ids)."""
    return scope(organization=organization)


def member_scope(user) -> AbstractContextManager:
    """The scope of everything a user may work on: all tenants for a platform admin, otherwise
    the organizations they are a member of (none at all for anyone else)."""
    if is_platform_admin(user):
        return platform_wide(f"platform admin {user.pk}: the admin across organizations")
    return scope(organization=sorted(grants_of(user)))


class TenantScopeMiddleware:
    """Resolves the tenant once per request and runs the view inside its scope."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return self.get_response(request)

        slug = match.kwargs.get(ORGANIZATION_URL_KWARG)
        if slug is not None:
            organization = Organization.objects.filter(slug=slug).first()
            if organization is None:
                raise Http404("No such organization.")
            request.organization = organization
            with organization_scope(organization):
                return self.get_response(request)

        if match.app_name == "admin":
            with member_scope(request.user):
                return self.get_response(request)

        return self.get_response(request)


def current_organization(request: HttpRequest) -> dict:
    """Template context: the organization of the URL, for its name and colours on every page."""
    return {"organization": getattr(request, "organization", None)}


class OrganizationTask(celery.Task):
    """Base for tasks on one organization's data: the body runs in that organization's scope.

    The task must take `organization_id` as a keyword argument; scopes do not cross the broker,
    so the worker re-enters the scope from it.
    """

    abstract = True

    def __call__(self, *args, **kwargs):
        if "organization_id" not in kwargs:
            raise TypeError(f"{self.name} must be called with organization_id=...")
        with organization_scope(kwargs["organization_id"]):
            return super().__call__(*args, **kwargs)


class _ScopedQuerysetMixin:
    """For choice fields of tenant-owned models on form classes built at import time.

    Django evaluates a ModelForm's querysets when the class is created, outside any scope; such
    a field starts empty there and keeps the queryset it is given later (the admin's, per
    request).
    """

    def __init__(self, queryset, **kwargs):
        if isinstance(queryset, DisabledQuerySet):
            queryset = queryset.none()
        super().__init__(queryset, **kwargs)


class ScopedModelChoiceField(_ScopedQuerysetMixin, forms.ModelChoiceField):
    pass


class ScopedModelMultipleChoiceField(_ScopedQuerysetMixin, forms.ModelMultipleChoiceField):
    pass


@extend_schema_field(ID_SCHEMA)
class ScopedPrimaryKeyRelatedField(StrictIdMixin, serializers.PrimaryKeyRelatedField):
    """The API's field for a tenant-owned row given by its id, looked up when the request is
    validated, inside its scope (a queryset built at import time would have none). The id is
    strict (config.api.fields.parse_id): 1.5 or " 1 " is a 400, not row 1."""

    def __init__(self, model, *, filters: dict | None = None, **kwargs):
        self.model, self.filters = model, filters or {}
        kwargs.setdefault("queryset", model._base_manager.none())  # tells the schema the model
        super().__init__(**kwargs)

    def get_queryset(self):
        rows = self.model.objects.filter(**self.filters)
        # The organization comes along in the same query: the services that take the row read
        # its settings (currency, time zone, policies) without a query of their own.
        return rows.select_related("organization") if issubclass(self.model, TenantModel) else rows

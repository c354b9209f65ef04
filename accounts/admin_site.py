"""The admin site and the base class every tenant-owned model's admin derives from.

The base class holds no rules of its own: it asks accounts.roles for every permission and every
queryset, so the admin shows a user exactly what their roles allow and answers 404 for the rest.
"""

from functools import wraps

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_permission_codename
from django.db import models
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.http import urlencode

from accounts import roles, sign_in
from accounts.models import Organization, TenantModel
from accounts.views import staff_second_factor


class StaffAuthenticationForm(AdminAuthenticationForm):
    """Lets in staff of any organization (not Django's is_staff flag, which we do not use)."""

    def confirm_login_allowed(self, user) -> None:
        if not roles.can_access_admin(user):
            raise forms.ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


class PlatformAdminSite(admin.AdminSite):
    site_header = "Booking platform"
    site_title = "Booking platform staff"
    index_title = "Your organizations"
    login_form = StaffAuthenticationForm

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list = []

    def has_permission(self, request: HttpRequest) -> bool:
        return roles.can_access_admin(request.user)

    def register_page(self, route: str, view, name: str) -> None:
        """Add a page that is not a model's (the analytics dashboard) behind the admin's login,
        in the same tenant scope as every admin page (accounts.tenancy)."""
        self._pages.append((route, view, name))

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict]:
        """The menu, where a model's admin may name its entry by what the business has
        (`menu_name(request)`: "Bays and staff members" rather than "Resources")."""
        app_list = super().get_app_list(request, app_label)
        for app in app_list:
            for entry in app["models"]:
                menu_name = getattr(self._registry.get(entry["model"]), "menu_name", None)
                if menu_name is not None:
                    entry["name"] = menu_name(request)
        return app_list

    def admin_view(self, view, cacheable: bool = False):
        """Every admin page, once the password is right, also wants the second factor of
        whoever must give one (accounts.sign_in.second_factor_required); signing out does not."""
        inner = super().admin_view(view, cacheable)

        @wraps(view)
        def behind_second_factor(request: HttpRequest, *args, **kwargs):
            if (
                request.resolver_match.url_name != "logout"
                and self.has_permission(request)
                and sign_in.second_factor_pending(request)
            ):
                query = urlencode({"next": request.get_full_path()})
                return HttpResponseRedirect(f"{reverse('admin:second_factor')}?{query}")
            return inner(request, *args, **kwargs)

        return behind_second_factor

    def get_urls(self):
        pages = [path(route, self.admin_view(view), name=name) for route, view, name in self._pages]
        second_factor = path("second-factor/", staff_second_factor, name="second_factor")
        return [second_factor, *pages, *super().get_urls()]


def view_permission(model: type[models.Model]) -> str:
    return f"{model._meta.app_label}.{get_permission_codename('view', model._meta)}"


class PermittedRelatedListFilter(admin.RelatedOnlyFieldListFilter):
    """Offers the related rows that appear in the list and that the user may see themselves
    (a colleague may also work at a location the user is not allowed to know about)."""

    def field_choices(self, field, request, model_admin):
        related = field.related_model
        in_list = model_admin.get_queryset(request).values_list(f"{self.field_path}__pk")
        visible = roles.permitted(
            request.user, view_permission(related), related._default_manager.all()
        ).values("pk")
        return field.get_choices(
            include_blank=False,
            limit_choices_to=Q(pk__in=in_list) & Q(pk__in=visible),
            ordering=self.field_admin_ordering(field, request, model_admin),
        )


class TenantModelAdmin(admin.ModelAdmin):
    """Admin for a tenant-owned model: permissions and rows come from accounts.roles."""

    def _perm(self, action: str, model: type[models.Model] | None = None) -> str:
        opts = (model or self.model)._meta
        return f"{opts.app_label}.{get_permission_codename(action, opts)}"

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm(self._perm("view"), obj) or self.has_change_permission(
            request, obj
        )

    def has_add_permission(self, request) -> bool:
        return request.user.has_perm(self._perm("add"))

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.has_perm(self._perm("change"), obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.has_perm(self._perm("delete"), obj)

    def get_queryset(self, request):
        return roles.permitted(request.user, self._perm("view"), super().get_queryset(request))

    def get_object(self, request, object_id, from_field=None):
        # Another tenant's object, or one outside the user's locations, is as absent as a missing
        # one: 404, rather than Django's redirect that would confirm nothing either way.
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404(f"No {self.opts.verbose_name} with this id.")
        return obj

    def get_changeform_initial_data(self, request) -> dict:
        """A member of one organization adds rows to that one without choosing it."""
        initial = super().get_changeform_initial_data(request)
        organization_id = _only_organization_id(request.user)
        if issubclass(self.model, TenantModel) and organization_id is not None:
            initial.setdefault("organization", organization_id)
        return initial

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        if obj is not None and "organization" not in readonly:
            readonly += ("organization",)  # rows never move between tenants
        return readonly

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        kwargs["queryset"] = self._choices(db_field, request)
        if db_field.name == "organization" and _only_organization_id(request.user) is not None:
            kwargs["empty_label"] = None  # their one organization, pre-selected, nothing else
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs["queryset"] = self._choices(db_field, request)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def _choices(self, db_field, request) -> models.QuerySet:
        """Offer only related rows the user may see; organizations only where they may add here."""
        related = db_field.remote_field.model
        perm = self._perm("add") if related is Organization else view_permission(related)
        return roles.permitted(request.user, perm, related._default_manager.all())


def _only_organization_id(user) -> int | None:
    """The organization of a member of exactly one (a platform admin works across them all)."""
    grants = roles.grants_of(user)
    if roles.is_platform_admin(user) or len(grants) != 1:
        return None
    return next(iter(grants))

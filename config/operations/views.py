"""The database page in the admin, for platform admins (its figures: config.operations.insight)."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

from accounts import roles
from config.operations.insight import database_report


@require_GET
def database(request: HttpRequest) -> TemplateResponse:
    # Server-wide figures (every tenant's statements): never for an organization's staff.
    if not roles.is_platform_admin(request.user):
        raise PermissionDenied("The database page is for platform admins.")
    context = {**admin.site.each_context(request), "title": "Database", "tables": database_report()}
    return TemplateResponse(request, "admin/operations/database.html", context)

"""Public pages of the platform and of each organization (the booking pages build on these)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.models import Location, Organization


def platform_home(request: HttpRequest) -> HttpResponse:
    """The businesses taking bookings on the platform."""
    return render(
        request, "accounts/platform_home.html", {"organizations": Organization.objects.all()}
    )


def organization_home(request: HttpRequest, organization_slug: str) -> HttpResponse:
    """An organization's landing page, inside the scope the tenant middleware entered."""
    organization = request.organization
    return render(
        request,
        "accounts/organization_home.html",
        {"organization": organization, "locations": Location.objects.all()},
    )

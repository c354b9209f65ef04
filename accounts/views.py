"""The platform's own public page; each organization's booking pages are in bookings/views.py."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.models import Organization


def platform_home(request: HttpRequest) -> HttpResponse:
    """The businesses taking bookings on the platform."""
    return render(
        request, "accounts/platform_home.html", {"organizations": Organization.objects.all()}
    )

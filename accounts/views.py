"""The platform's own public page; each organization's booking pages are in bookings/views.py."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from accounts.errors import InvalidLink
from accounts.models import Organization
from accounts.services import account_email_verify


def platform_home(request: HttpRequest) -> HttpResponse:
    """The businesses taking bookings on the platform."""
    return render(
        request, "accounts/platform_home.html", {"organizations": Organization.objects.all()}
    )


@require_http_methods(["GET", "POST"])
def email_verify(request: HttpRequest, token: str) -> HttpResponse:
    """The verification email's link. Opening it only asks (mail scanners open links too);
    the button verifies. An app that handles the link posts the token to the API instead."""
    context = {"token": token, "verified": False, "invalid": False}
    if request.method == "POST":
        try:
            context["user"] = account_email_verify(token=token)
            context["verified"] = True
        except InvalidLink:
            context["invalid"] = True
    status = 400 if context["invalid"] else 200
    return render(request, "accounts/verify_email.html", context, status=status)

"""The platform's own public page, the email verification link's page, and the staff's sign-in
pages around the admin's login (second factor, password reset); each organization's booking
pages are in bookings/pages/."""

import math
from base64 import b32encode

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import INTERNAL_RESET_SESSION_TOKEN, redirect_to_login
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login

from accounts import roles
from accounts.api.throttling import account_email_wait
from accounts.errors import InvalidLink
from accounts.forms import PasswordResetRequestForm, SecondFactorCodeForm
from accounts.models import Organization
from accounts.services import (
    account_email_verify,
    account_password_reset_confirm,
    account_password_reset_request,
    second_factor_enrolment_confirm,
    second_factor_enrolment_start,
)
from accounts.sign_in import (
    enrolment_qr_svg,
    second_factor_device,
    second_factor_pending,
    sign_in_page_context,
)
from config.api.throttling import page_wait


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


def _next_url(request: HttpRequest) -> str:
    """Where the admin sent the person from, if it is on this site; the admin's index else."""
    url = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return reverse("admin:index")


@require_http_methods(["GET", "POST"])
def staff_second_factor(request: HttpRequest) -> HttpResponse:
    """After the password, before the admin: the code of the person's authenticator app, or,
    without one yet, setting one up (a QR code, then a code to show it works)."""
    if not roles.can_access_admin(request.user):
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    if not second_factor_pending(request):
        return redirect(_next_url(request))
    user = request.user
    form = SecondFactorCodeForm(request.POST if request.method == "POST" else None)
    device = second_factor_device(user)
    context = {"form": form, "next": _next_url(request)}
    if device is None:
        enrolling = second_factor_enrolment_start(actor=user)
        if form.is_valid():
            try:
                device = second_factor_enrolment_confirm(actor=user, code=form.cleaned_data["code"])
            except ValidationError as error:
                form.add_error("code", error.message_dict["code"])
        context |= {
            **sign_in_page_context("Set up your second factor"),
            "qr_svg": enrolment_qr_svg(enrolling),
            "secret": b32encode(enrolling.bin_key).decode(),
        }
        template = "admin/second_factor_enrol.html"
    else:
        if form.is_valid():
            allowed, _ = device.verify_is_allowed()
            if not allowed:
                form.add_error("code", "Too many wrong codes: wait a little, then try again.")
            elif not device.verify_token(form.cleaned_data["code"]):
                form.add_error("code", "This is not the code your app shows; try the next one.")
        context |= sign_in_page_context("Your second factor")
        template = "admin/second_factor.html"
    if form.is_bound and not form.errors:
        otp_login(request, device)
        return redirect(context["next"])
    return render(request, template, context, status=400 if form.errors else 200)


def _too_many_resets(request: HttpRequest, context: dict, wait_seconds: int) -> HttpResponse:
    context["form"].add_error(
        None,
        "Too many password resets were asked for; try again in "
        f"{math.ceil(wait_seconds / 60)} minutes.",
    )
    response = render(request, "admin/password_reset_form.html", context, status=429)
    response["Retry-After"] = str(wait_seconds)
    return response


@require_http_methods(["GET", "POST"])
def staff_password_reset(request: HttpRequest) -> HttpResponse:
    """The admin login's "Forgotten your password?": the same reset email as the API's
    (`account_password_reset_request`, through the account email outbox), counted per client
    address and, with the API's requests, per email address. The answer is the same whether
    or not the address has an account."""
    form = PasswordResetRequestForm(request.POST if request.method == "POST" else None)
    context = {**sign_in_page_context("Password reset"), "form": form}
    if form.is_valid():
        email = form.cleaned_data["email"]
        wait = page_wait(request, "page_password_reset") or account_email_wait(request, email)
        if wait is not None:
            return _too_many_resets(request, context, wait)
        account_password_reset_request(email=email)
        return redirect("admin_password_reset_done")
    return render(
        request, "admin/password_reset_form.html", context, status=400 if form.errors else 200
    )


def staff_password_reset_done(request: HttpRequest) -> HttpResponse:
    """Sent (or not: the page does not say whether the address has an account)."""
    context = {
        **sign_in_page_context("Password reset sent"),
        "valid_days": settings.PASSWORD_RESET_TIMEOUT // 86400,
    }
    return render(request, "admin/password_reset_done.html", context)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """The reset email's link in a browser (staff and customers alike): Django's page, which
    keeps the token out of the address bar, setting the password through the same service as
    the API, so every device is signed out and the email counts as verified."""

    def form_valid(self, form):
        account_password_reset_confirm(
            uid=self.kwargs["uidb64"],
            token=self.request.session.pop(INTERNAL_RESET_SESSION_TOKEN),
            new_password=form.cleaned_data["new_password1"],
        )
        return redirect(self.get_success_url())

"""The staff's doors into the admin: lockout, second factor, idle sessions.

- django-axes counts failed admin sign-ins per account and per address and refuses them past
  AXES_FAILURE_LIMIT (AdminOnlyAxesHandler: the API's sign-in keeps its FailedLoginThrottle).
- A second factor (TOTP, django-otp) is asked after the password of whoever
  `second_factor_required` names; PlatformAdminSite.admin_view sends them to the second-factor
  page until the session is verified.
- A staff session ends STAFF_SESSION_IDLE_MINUTES after its last request
  (StaffSessionRenewalMiddleware); customers' sessions keep Django's defaults.
"""

import math
from collections.abc import Callable
from datetime import timedelta
from io import BytesIO

import qrcode
import qrcode.image.svg
from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import SESSION_KEY
from django.db.models import Exists, OuterRef, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import roles
from accounts.models import Organization, User

# The session's end is written again only once it is this much closer than the full idle time,
# so an active staff member's requests do not each write their session row.
SESSION_RENEWAL_STEP = timedelta(minutes=1)


class AdminOnlyAxesHandler(AxesDatabaseHandler):
    """django-axes for the admin's sign-in only.

    AXES_ONLY_ADMIN_SITE keeps axes from refusing anything outside the admin, but it would still
    record the API's failed and successful sign-ins; those are the FailedLoginThrottle's to count
    (accounts/api/throttling.py), so they would otherwise lock people out of the admin.
    """

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs) -> None:
        if request is not None and self.is_admin_request(request):
            super().user_login_failed(sender, credentials, request, **kwargs)

    def user_logged_in(self, sender, request, user, **kwargs) -> None:
        if request is not None and self.is_admin_request(request):
            super().user_logged_in(sender, request, user, **kwargs)

    def user_logged_out(self, sender, request, user, **kwargs) -> None:
        if request is not None and self.is_admin_request(request):
            super().user_logged_out(sender, request, user, **kwargs)


def sign_in_name(request: HttpRequest, credentials: dict | None) -> str:
    """The email a sign-in names, as accounts are found by it (any case, no spaces), so
    changing the case of the email does not start a fresh count."""
    typed = (credentials or {}).get("username") or request.POST.get("username", "")
    return User.objects.normalize_email(str(typed).strip()).lower()


def sign_in_page_context(title: str) -> dict:
    """What the admin's frame needs on the pages around its login: the site's names, and no
    menu (nothing of the admin shows before the person is fully signed in)."""
    site = admin.site
    return {
        "title": title,
        "site_header": site.site_header,
        "site_title": site.site_title,
        "site_url": site.site_url,
        "has_permission": False,
    }


def locked_out(request: HttpRequest, original_response, credentials: dict) -> HttpResponse:
    """429: the admin's sign-in refused while the account or the address is locked out.

    Every refused try counts as a failure and starts the cool-off again (axes'
    AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT), so the wait is a whole cool-off from now.
    """
    wait = settings.AXES_COOLOFF_TIME
    context = {
        **sign_in_page_context("Signing in is locked"),
        "retry_at": timezone.now() + wait,
        "wait_minutes": math.ceil(wait.total_seconds() / 60),
        "failure_limit": settings.AXES_FAILURE_LIMIT,
    }
    response = render(request, "admin/locked_out.html", context, status=429)
    response["Retry-After"] = str(math.ceil(wait.total_seconds()))
    return response


def second_factor_device(user: User) -> TOTPDevice | None:
    """The user's confirmed authenticator, if they enrolled one."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def second_factor_required(user: User) -> bool:
    """Whether this user must give a code after the password to use the admin: they enrolled
    an authenticator, one of their organizations requires it of its staff, or they are a
    platform admin and the platform requires it of them."""
    if roles.is_platform_admin(user) and settings.PLATFORM_ADMIN_SECOND_FACTOR_REQUIRED:
        return True
    # One query for both questions: it runs on every admin page until the session is verified.
    return User.objects.filter(
        Q(pk=user.pk)
        & (
            Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True))
            | Exists(
                Organization.objects.filter(
                    pk__in=list(roles.grants_of(user)), staff_second_factor_required=True
                )
            )
        )
    ).exists()


def second_factor_pending(request: HttpRequest) -> bool:
    """A signed-in admin user who still owes this session their second factor."""
    user = request.user
    if not user.is_authenticated or user.is_verified():
        return False
    cached = getattr(request, "_second_factor_required", None)
    if cached is None:
        cached = request._second_factor_required = second_factor_required(user)
    return cached


def enrolment_qr_svg(device: TOTPDevice) -> str:
    """The authenticator app's setup link as an inline SVG QR code (no image request, and no
    script, so the Content-Security-Policy stays as it is)."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage)
    buffer = BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode()
    return svg[svg.index("<svg") :]  # without the XML declaration, to sit inside the page


class StaffSessionRenewalMiddleware:
    """Ends a staff member's session after STAFF_SESSION_IDLE_MINUTES without a request.

    A signed-in person who may use the admin gets a session that expires that long after their
    last request; every request pushes the end forward (at most one session write a minute).
    Customers, and anonymous visitors, keep Django's defaults.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # After the view: a sign-in or sign-out during the request counts.
        # Only a session sign-in: an API request by token (DRF sets request.user too) has no
        # session to renew, and must not be given one.
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and SESSION_KEY in request.session
            and roles.can_access_admin(user)
        ):
            self._renew(request)
        return response

    @staticmethod
    def _renew(request: HttpRequest) -> None:
        idle = timedelta(minutes=settings.STAFF_SESSION_IDLE_MINUTES)
        session = request.session
        now = timezone.now()
        if "_session_expiry" in session and session.get_expiry_date() - now > idle - (
            SESSION_RENEWAL_STEP
        ):
            return
        session.set_expiry(now + idle)

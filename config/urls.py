from django.contrib import admin
from django.urls import include, path

from accounts import views as accounts_views

# /health/live, /health/ready and /metrics are answered by config.operations.middleware, before the
# host check and the tenant wall, so they are not routes here.

urlpatterns = [
    # The admin login's "Forgotten your password?" (Django's admin links it by these names); the
    # email's link opens /accounts/reset/... below.
    path(
        "admin/password_reset/",
        accounts_views.staff_password_reset,
        name="admin_password_reset",
    ),
    path(
        "admin/password_reset/done/",
        accounts_views.staff_password_reset_done,
        name="admin_password_reset_done",
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api.urls")),
    # The link of the sign-up's verification email (a page that asks to confirm, then verifies).
    path("accounts/verify-email/<str:token>/", accounts_views.email_verify, name="verify-email"),
    # Password set / reset pages (invited staff choose their password here); the password is set
    # by the API's service (accounts.views.PasswordResetConfirmView).
    path(
        "accounts/reset/<uidb64>/<token>/",
        accounts_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", accounts_views.platform_home, name="platform-home"),
    # Everything below /<organization_slug>/ runs in that organization's scope (accounts.tenancy).
    path("<slug:organization_slug>/", include("bookings.pages.urls")),
]

# Under /api/ errors raised outside DRF keep the API's error body (config/api/errors.py).
handler404 = "config.api.errors.not_found"
handler500 = "config.api.errors.server_error"

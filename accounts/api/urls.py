from django.urls import path

from accounts.api import views

urlpatterns = [
    path("auth/token/", views.TokenObtainView.as_view(), name="token-obtain"),
    path("auth/signup/", views.SignupView.as_view(), name="signup"),
    path("auth/logout/", views.LogoutView.as_view(), name="logout"),
    path("auth/tokens/", views.TokenListView.as_view(), name="token-list"),
    path("auth/tokens/<str:token_key>/", views.TokenRevokeView.as_view(), name="token-revoke"),
    path("auth/password-reset/", views.PasswordResetRequestView.as_view(), name="password-reset"),
    path(
        "auth/password-reset/confirm/",
        views.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path("auth/verify-email/", views.EmailVerifyView.as_view(), name="verify-email"),
    path("me/", views.MeView.as_view(), name="me"),
    path("me/password/", views.PasswordChangeView.as_view(), name="password-change"),
    path(
        "me/verify-email/",
        views.EmailVerificationResendView.as_view(),
        name="verify-email-resend",
    ),
    path(
        "organizations/<slug:organization_slug>/staff/customers/",
        views.CustomerLookupView.as_view(),
        name="staff-customers",
    ),
]

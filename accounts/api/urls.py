from django.urls import path

from accounts.api import views

urlpatterns = [
    path("auth/token/", views.TokenObtainView.as_view(), name="token-obtain"),
    path("auth/signup/", views.SignupView.as_view(), name="signup"),
    path("auth/logout/", views.LogoutView.as_view(), name="logout"),
    path("auth/tokens/", views.TokenListView.as_view(), name="token-list"),
    path("auth/tokens/<str:token_key>/", views.TokenRevokeView.as_view(), name="token-revoke"),
    path("me/", views.MeView.as_view(), name="me"),
    path(
        "organizations/<slug:organization_slug>/staff/customers/",
        views.CustomerLookupView.as_view(),
        name="staff-customers",
    ),
]

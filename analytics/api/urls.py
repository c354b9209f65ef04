from django.urls import path

from analytics.api import views

ORGANIZATION = "organizations/<slug:organization_slug>/"

urlpatterns = [
    path(f"{ORGANIZATION}analytics/", views.AnalyticsReportView.as_view(), name="analytics-report"),
    path(
        f"{ORGANIZATION}analytics/today/",
        views.AnalyticsTodayView.as_view(),
        name="analytics-today",
    ),
]

"""The dashboard's pages in the admin (the views are read-only: no model admin)."""

from django.contrib import admin

from analytics import views

admin.site.register_page("analytics/", views.dashboard, "analytics_dashboard")
admin.site.register_page(
    "analytics/<slug:table>.csv", views.dashboard_csv, "analytics_dashboard_csv"
)
admin.site.register_page("analytics/refresh/", views.dashboard_refresh, "analytics_refresh")

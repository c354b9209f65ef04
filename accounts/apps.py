from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Organizations and people"


class PlatformAdminConfig(admin_apps.AdminConfig):
    """Makes accounts.admin_site.PlatformAdminSite the site that admin.register uses."""

    default = False
    default_site = "accounts.admin_site.PlatformAdminSite"

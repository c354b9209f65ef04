from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Organizations and people"

    def ready(self) -> None:
        # The second tenant wall: each connection's statements carry their scope, and migrate
        # leaves a policy on every tenant table (config/row_security.py).
        from config.row_security import connect_post_migrate, connect_signals

        connect_signals()
        connect_post_migrate()


class PlatformAdminConfig(admin_apps.AdminConfig):
    """Makes accounts.admin_site.PlatformAdminSite the site that admin.register uses."""

    default = False
    default_site = "accounts.admin_site.PlatformAdminSite"

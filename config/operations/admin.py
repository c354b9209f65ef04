from django.contrib import admin
from django.template.defaultfilters import filesizeformat

from accounts import roles
from config.operations import views
from config.operations.models import Backup


@admin.register(Backup)
class BackupAdmin(admin.ModelAdmin):
    """The backup history, for platform admins only; backups are taken by beat or the command."""

    list_display = ["name", "started_at", "status", "size", "verification", "verified_at",
                    "restore_seconds", "removed_at"]  # fmt: skip
    list_filter = ["status", "verification"]
    readonly_fields = [field.name for field in Backup._meta.fields]

    @admin.display(description="size")
    def size(self, backup: Backup) -> str:
        return filesizeformat(backup.size_bytes) if backup.size_bytes is not None else "-"

    def has_module_permission(self, request) -> bool:
        return roles.is_platform_admin(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return roles.is_platform_admin(request.user)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


admin.site.register_page("database/", views.database, "operations_database")

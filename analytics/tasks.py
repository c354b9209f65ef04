"""Periodic refresh of the reporting views (CELERY_BEAT_SCHEDULE: `refresh-analytics-views`).

The views cover every organization, so the task runs outside any tenant scope; it reads no
tenant-owned model. Two beats or a manual refresh at the same moment are harmless: each view's
refresh takes an advisory lock and a second one is skipped (analytics.services.view_refresh).
"""

from celery import shared_task

from analytics.models import ReportView
from analytics.services import view_refresh


@shared_task
def analytics_views_refresh() -> dict[str, bool]:
    """Refresh each view concurrently; answers which views this run refreshed."""
    return {view.value: view_refresh(view=view) is not None for view in ReportView}

"""Keeping the figure tables up to date (CELERY_BEAT_SCHEDULE).

`analytics_figures_update` runs every few minutes and recomputes only the touched days;
`analytics_tables_rebuild` rebuilds every table whole once a night, for what the touched days do
not follow (opening hours, closures, resources). Both run outside any tenant scope and read no
tenant-owned model through the ORM. Two at the same moment are harmless: each takes the tables'
advisory locks and a second one is skipped (analytics.services).
"""

from celery import shared_task

from analytics.models import ReportView
from analytics.services import figures_update, table_rebuild


@shared_task
def analytics_figures_update() -> int | None:
    """Recompute the touched days; answers how many, or None if another refresh was running."""
    update = figures_update()
    return None if update is None else update.days


@shared_task
def analytics_tables_rebuild() -> dict[str, bool]:
    """Rebuild each table whole; answers which tables this run rebuilt."""
    return {view.value: table_rebuild(view=view) is not None for view in ReportView}

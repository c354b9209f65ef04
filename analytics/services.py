"""Refreshing the reporting views: concurrently, one refresh of a view at a time, recorded."""

import time
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from analytics.models import ReportView, ViewRefresh
from config.database import task_statement_budget
from config.row_security import platform_wide

# The first key of the two-key advisory locks this app takes (the second is the view's hash),
# so they cannot collide with another app's one-key locks.
REFRESH_LOCK_CLASS = 7_301
# A refresh may run longer than a request's statement timeout (DATABASE_STATEMENT_TIMEOUT); it
# runs in a task or a command, so it gets the task's soft time limit instead.
REFRESH_STATEMENT_BUDGET_SECONDS = 240


def view_refresh(*, view: ReportView) -> ViewRefresh | None:
    """Refresh one view, or return None at once if another worker or beat is refreshing it.

    `CONCURRENTLY` lets dashboards read the old rows while the new ones are computed. The
    advisory lock lives as long as the transaction, so a killed worker never leaves it taken;
    a second refresh asked for meanwhile would compute the same rows, so it is skipped rather
    than queued. The view and its record are committed together: a reader sees the new rows
    only with their new as_of, which is where the live slice starts (analytics/figures.py).

    Platform-wide: a view covers every organization, and only its owner may refresh it.
    """
    as_of = timezone.now()
    started = time.monotonic()
    # Durable: inside a caller's transaction the lock and the record would outlive this function.
    with (
        platform_wide(f"analytics refresh of {view}: every organization's rows"),
        transaction.atomic(durable=True),
        task_statement_budget(REFRESH_STATEMENT_BUDGET_SECONDS),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "SELECT pg_try_advisory_xact_lock(%s, hashtext(%s))", [REFRESH_LOCK_CLASS, view]
        )
        if not cursor.fetchone()[0]:
            return None
        cursor.execute("SELECT set_config('analytics.as_of', %s, true)", [as_of.isoformat()])
        cursor.execute(f"REFRESH MATERIALIZED VIEW CONCURRENTLY {ReportView(view).materialized}")
        duration = timedelta(seconds=time.monotonic() - started)
        updated = ViewRefresh.objects.filter(view=view).update(
            as_of=as_of, duration=duration, refresh_count=F("refresh_count") + 1
        )
        if not updated:
            ViewRefresh.objects.create(view=view, as_of=as_of, duration=duration, refresh_count=1)
        return ViewRefresh.objects.get(view=view)

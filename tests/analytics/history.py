"""What the refresh tests share about the views: their records, and emptying them."""

from django.db import connection, transaction
from django_scopes import scopes_disabled

from analytics.models import ReportView, ViewRefresh


def refresh_counts() -> dict[str, int]:
    """Each view's refresh_count (0 for a view never recorded)."""
    counts = dict(ViewRefresh.objects.values_list("view", "refresh_count"))
    return {view.value: counts.get(view.value, 0) for view in ReportView}


def views_emptied() -> None:
    """Refresh every view as of 2000-01-01: no booking's day is before it, so they hold no row.

    Committed refreshes outlive a transactional test (its flush empties tables, not views), so
    tests that commit leave the views as empty as they found them.
    """
    views_refreshed_as_of("2000-01-01T00:00:00+00:00")


def views_refreshed_as_of(moment: str) -> None:
    """Every view refreshed as if it were `moment` (an ISO instant)."""
    # The views' owner refreshes them (the app role reads them through their walled views).
    with scopes_disabled(), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('analytics.as_of', %s, true)", [moment])
        for view in ReportView:
            cursor.execute(f"REFRESH MATERIALIZED VIEW {view.materialized}")

"""What the refresh tests share about the views: their records, and emptying them."""

from django.db import connection, transaction
from django_scopes import scopes_disabled

from analytics.figures import view_definitions
from analytics.models import ReportView, ViewRefresh
from analytics.services import _insert


def refresh_counts() -> dict[str, int]:
    """Each view's refresh_count (0 for a view never recorded)."""
    counts = dict(ViewRefresh.objects.values_list("view", "refresh_count"))
    return {view.value: counts.get(view.value, 0) for view in ReportView}


def views_emptied() -> None:
    """Rebuild every table as of 2000-01-01: no booking's day is before it, so they hold no row.

    The tables are unmanaged: a transactional test's flush leaves them as they are, so tests
    that commit leave them as empty as they found them.
    """
    views_refreshed_as_of("2000-01-01T00:00:00+00:00")


def views_refreshed_as_of(moment: str) -> None:
    """Every table rebuilt as if it were `moment` (an ISO instant), without a refresh record."""
    # The owner writes them (the app role only reads them, under the wall).
    with scopes_disabled(), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('analytics.as_of', %s, true)", [moment])
        for view in ReportView:
            cursor.execute(f"DELETE FROM {view}")
            cursor.execute(_insert(view, view_definitions()[view]))

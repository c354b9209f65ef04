"""The dashboard reads the views and today's indexed slice of bookings, nothing else.

The queries are captured while the dashboard is drawn; every one that touches the bookings table
must be the live slice or today's schedule, and must be answerable from an index. The plans on
the benchmark's 100,000 bookings are in docs/analytics.md.
"""

import json
import re
from collections.abc import Iterator

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from analytics.models import ReportView
from analytics.services import view_refresh
from tests.analytics.reporting import ReportingTenant

BOOKINGS_TABLE = re.compile(r'\bbookings_booking\b"?\s', re.IGNORECASE)


@pytest.fixture
def alpha(db, fixed_now) -> ReportingTenant:
    tenant = ReportingTenant("Alpha", main_price="101.00", annex_price="202.00")
    for view in ReportView:
        view_refresh(view=view)
    return tenant


def dashboard_queries(client) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("admin:analytics_dashboard"))
    assert response.status_code == 200
    return [query["sql"] for query in captured.captured_queries]


def plan(sql: str) -> dict:
    """The plan PostgreSQL would choose if reading a whole table were the last resort."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
        explained = cursor.fetchone()[0]
        cursor.execute("RESET enable_seqscan")
    return (json.loads(explained) if isinstance(explained, str) else explained)[0]["Plan"]


def scans_of(table: str, node: dict) -> Iterator[dict]:
    if node.get("Relation Name") == table:
        yield node
    for child in node.get("Plans", []):
        yield from scans_of(table, child)


def bounded_by_an_index(scan: dict) -> bool:
    """An index scan with a condition, not a walk through a whole index or table."""
    if scan["Node Type"] in ("Index Scan", "Index Only Scan"):
        return "Index Cond" in scan
    return scan["Node Type"] == "Bitmap Heap Scan" and "Recheck Cond" in scan


def test_bookings_are_read_only_by_the_live_slice_and_today_s_schedule(alpha, client_for):
    queries = dashboard_queries(client_for(alpha.owner))

    on_bookings = [sql for sql in queries if BOOKINGS_TABLE.search(sql)]
    live_slice = [sql for sql in on_bookings if "ANY(" in sql]
    schedule = [sql for sql in on_bookings if "ANY(" not in sql]
    assert len(live_slice) == 3  # one per view
    assert all('"bookings_booking"."starts_at" <' in sql for sql in schedule)
    assert len(schedule) == 2  # today's counts and today's list
    views = {view.value for view in ReportView}
    assert {name for name in views if any(name in sql for sql in queries)} == views


def test_every_read_of_bookings_is_answered_from_an_index(alpha, client_for):
    queries = dashboard_queries(client_for(alpha.owner))

    reads = [sql for sql in queries if BOOKINGS_TABLE.search(sql)]
    assert reads
    for sql in reads:
        scans = list(scans_of("bookings_booking", plan(sql)))
        assert scans and all(bounded_by_an_index(scan) for scan in scans), (sql, scans)


def test_view_reads_use_the_views_indexes(alpha, client_for):
    queries = dashboard_queries(client_for(alpha.owner))

    for view in ReportView:
        reads = [sql for sql in queries if f'FROM "{view.value}"' in sql]
        assert reads, view
        for sql in reads:
            scans = list(scans_of(view.value, plan(sql)))
            assert scans and all(bounded_by_an_index(scan) for scan in scans), (sql, scans)


def test_the_number_of_queries_does_not_grow_with_locations_or_days(alpha, client_for):
    client = client_for(alpha.owner)
    with CaptureQueriesContext(connection) as narrow:
        client.get(
            reverse("admin:analytics_dashboard"),
            {"location": alpha.location.pk, "first_day": "2029-12-06"},
        )
    with CaptureQueriesContext(connection) as wide:
        client.get(reverse("admin:analytics_dashboard"), {"first_day": "2029-01-01"})

    assert len(wide) == len(narrow)

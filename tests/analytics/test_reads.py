"""The dashboard reads the views and today's indexed slice of bookings, nothing else.

The queries are captured while the dashboard is drawn; every one that touches the bookings table
must be the live slice or today's schedule, and must be answerable from an index. The plans on
the benchmark's 100,000 bookings are in docs/analytics.md.
"""

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from analytics.models import ReportView
from analytics.services import table_rebuild
from bookings.models import Booking, BookingStatus, Payment, PaymentKind, PaymentMethod
from config.row_security import platform_wide
from tests.factories import BookingFactory
from tests.scenarios import NOW, ReportingTenant

BOOKINGS_TABLE = re.compile(r'\bbookings_booking\b"?\s', re.IGNORECASE)


HISTORY = 4000  # bookings, one every four hours for two years before NOW


@pytest.fixture
def alpha(db, fixed_now) -> ReportingTenant:
    """A tenant with two years of history, so the planner weighs reading it against an index
    as it would in production (statistics of a few rows favour reading everything)."""
    tenant = ReportingTenant("Alpha", main_price="101.00", annex_price="202.00")
    with scopes_disabled():
        # Built by the factory, written in one statement: 4,000 single inserts are slow.
        Booking.objects.bulk_create(
            BookingFactory.build(
                customer=tenant.customer,
                service=tenant.service,
                resource=tenant.main_bay if n % 2 else tenant.annex_bay,
                starts_at=NOW - timedelta(hours=4 * n),
                ends_at=NOW - timedelta(hours=4 * n - 1),
                status=BookingStatus.CANCELLED,  # takes no time: no occupancy needed
                total_price=Decimal("1.00"),
                code=f"HIST{n:06d}",
            )
            for n in range(12, HISTORY + 12)
        )
        # Made a day ahead, like real bookings (auto_now_add stamped them all "now").
        history = Booking.objects.filter(code__startswith="HIST")
        history.update(created_at=F("starts_at") - timedelta(days=1))
        # Each kept a deposit, so revenue has payment rows to read: two years of them.
        Payment.objects.bulk_create(
            Payment(
                organization=tenant.organization,
                booking=booking,
                kind=PaymentKind.PAYMENT,
                method=PaymentMethod.CASH,
                amount=Decimal("0.50"),
                currency=booking.currency,
                is_deposit=True,
            )
            for booking in history
        )
    # As the owner: under the app role ANALYZE skips the tables (with a mere warning) and the
    # planner would guess from no statistics at all.
    with platform_wide("tests: statistics for the planner"), connection.cursor() as cursor:
        cursor.execute("ANALYZE bookings_booking")
        cursor.execute("ANALYZE bookings_payment")
    for view in ReportView:
        table_rebuild(view=view)
    return tenant


def dashboard_queries(client) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("admin:analytics_dashboard"))
    assert response.status_code == 200
    return [query["sql"] for query in captured.captured_queries]


def plan(sql: str, organization, *, scans_allowed: bool = True) -> dict:
    """The plan PostgreSQL chooses for the query, in the scope it ran in (the row policies
    add the scope's organizations to every tenant table's scan: config/row_security.py).
    Without scans allowed, the plan an index can give, if any can."""
    with (
        scope(organization=organization),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        if not scans_allowed:
            cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
        explained = cursor.fetchone()[0]
    return (json.loads(explained) if isinstance(explained, str) else explained)[0]["Plan"]


def scans_of(table: str, node: dict, parent: dict | None = None) -> Iterator[tuple[dict, dict]]:
    if node.get("Relation Name") == table:
        yield node, parent or {}
    for child in node.get("Plans", []):
        yield from scans_of(table, child, node)


# The indexes that reach only the rows of the days asked for: bookings overlapping them at
# these locations, bookings made since, and a location's first booking (one entry, under a
# Limit). The slice is found through the first two in the walled view bookings_booking_period
# (bookings.models.periods), then read by primary key. An index scan over anything else would
# walk a location's whole history.
SLICE_INDEXES = {"booking_location_period", "booking_location_made"}


def reads_a_slice(scan: dict, parent: dict) -> bool:
    index = scan.get("Index Name")
    if scan["Node Type"] == "Bitmap Heap Scan":
        return all(child.get("Index Name") in SLICE_INDEXES for child in _leaves(scan))
    if index == "booking_location_day":
        return parent.get("Node Type") == "Limit"
    if index == "bookings_booking_pkey":  # the ids the slice found
        return re.fullmatch(r"\(id = ANY \('\{[\d,]*\}'::bigint\[\]\)\)", scan["Index Cond"])
    return index in SLICE_INDEXES


def _leaves(node: dict) -> Iterator[dict]:
    for child in node.get("Plans", []):
        if child["Node Type"] == "Bitmap Index Scan":
            yield child
        else:
            yield from _leaves(child)


def bounded_by_an_index(scan: dict) -> bool:
    """An index scan with a condition, not a walk through a whole index or table."""
    if scan["Node Type"] in ("Index Scan", "Index Only Scan"):
        return "Index Cond" in scan
    return scan["Node Type"] == "Bitmap Heap Scan" and "Recheck Cond" in scan


def test_bookings_are_read_only_by_the_live_slice_and_today_s_schedule(alpha, client_for):
    queries = dashboard_queries(client_for(alpha.owner))

    slices = [sql for sql in queries if "bookings_booking_period" in sql]
    assert len(slices) == 4  # one per view, one for today's schedule
    assert all("occupancy_range" in sql for sql in slices)  # the period index's expression
    on_bookings = [sql for sql in queries if BOOKINGS_TABLE.search(sql)]
    live_slice = [sql for sql in on_bookings if "b.id = ANY(" in sql]
    schedule = [sql for sql in on_bookings if '"bookings_booking"."id" IN (' in sql]
    assert len(live_slice) == 3  # one per view
    assert len(schedule) == 2  # today's counts and today's list
    assert len(on_bookings) == 5
    views = {view.value for view in ReportView}
    assert {name for name in views if any(name in sql for sql in queries)} == views


def test_every_read_of_bookings_reaches_only_the_days_asked_for(alpha, client_for):
    queries = dashboard_queries(client_for(alpha.owner))

    reads = [sql for sql in queries if "bookings_booking" in sql]
    assert reads
    for sql in reads:
        # The walled view's scans are the table's.
        scans = list(scans_of("bookings_booking", plan(sql, alpha.organization)))
        assert scans and all(reads_a_slice(*scan) for scan in scans), (sql, scans)


def test_payments_are_read_by_booking_through_their_index(alpha, client_for):
    """Revenue is the bookings' payments: the live slice reads those of its bookings only."""
    queries = dashboard_queries(client_for(alpha.owner))

    reads = [sql for sql in queries if "bookings_payment" in sql]
    assert len(reads) == 2  # the live slices of the two views with revenue
    for sql in reads:
        scans = list(scans_of("bookings_payment", plan(sql, alpha.organization)))
        assert scans and all(bounded_by_an_index(scan) for scan, _ in scans), (sql, scans)


def test_figure_reads_use_the_tables_indexes(alpha, client_for):
    queries = dashboard_queries(client_for(alpha.owner))

    for view in ReportView:
        reads = [sql for sql in queries if f'FROM "{view.value}"' in sql]
        assert reads, view
        for sql in reads:
            # This world's figures fit in a page or two, where reading them whole is the right
            # plan; what must hold at any size is that an index can serve the read.
            scans = list(scans_of(view.value, plan(sql, alpha.organization, scans_allowed=False)))
            assert scans and all(bounded_by_an_index(scan) for scan, _ in scans), (sql, scans)


def test_the_number_of_queries_does_not_grow_with_locations_or_days(alpha, client_for):
    client = client_for(alpha.owner)
    # The first page after a sign-in stamps the staff session's idle expiry (one write).
    client.get(reverse("admin:analytics_dashboard"))
    with CaptureQueriesContext(connection) as narrow:
        client.get(
            reverse("admin:analytics_dashboard"),
            {"location": alpha.location.pk, "first_day": "2029-12-06"},
        )
    with CaptureQueriesContext(connection) as wide:
        client.get(reverse("admin:analytics_dashboard"), {"first_day": "2029-01-01"})

    assert len(wide) == len(narrow)

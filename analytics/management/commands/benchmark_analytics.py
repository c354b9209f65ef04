"""How fast the analytics are on the benchmark data set: view refreshes, dashboard and API.

    python manage.py seed_benchmark --bookings 100000
    psql ... -c "VACUUM ANALYZE"
    python manage.py refresh_analytics
    python manage.py benchmark_analytics [--repeat 3] [--requests 20] [--changes 1000]

Prints Markdown tables to paste into a note: the benchmark organization's bookings and each
table's rows; each table's full rebuild time (min and median of --repeat rebuilds); the time an
update takes to bring the figures up to date after --changes changed bookings (an outcome
recorded late: completed becomes no-show or back), spread over the last 2 days (the desk's
usual day: yesterday's outcomes), the last 30 days and the whole history (--repeat updates
each, after one that settles the marks seeding left); the
response time of the staff dashboard (the admin, last 30 days) and of the analytics API (median
and p95 of --requests requests after one warm-up, which also counts the queries), signed in as
the organization's owner bench-owner@bench.example, created if missing.

A refresh rebuilds its view for every organization in the database, as the beat does. Requests
go through django.test.Client in this process, with DEBUG off: middleware, view, queries and
rendering, without a web server or network.
"""

import json
import math
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django_scopes import scope
from knox.models import AuthToken

from accounts.models import Membership, Organization, Role, User
from analytics.models import LocationDay, OfferingMonth, ReportView, ResourceDay
from analytics.services import figures_update, table_rebuild
from bookings.models import Booking
from config.row_security import platform_wide

SLUG = "benchmark"
OWNER_EMAIL = "bench-owner@bench.example"
VIEW_MODELS = {model._meta.db_table: model for model in (LocationDay, ResourceDay, OfferingMonth)}
# (what, URL name, URL kwargs, query string, how the owner signs in)
PAGES = [
    (
        "staff dashboard (admin, 30 days)",
        "admin:analytics_dashboard",
        {},
        f"organization={SLUG}",
        "session",
    ),
    ("analytics API report", "api:analytics-report", {"organization_slug": SLUG}, "", "token"),
]


class Command(BaseCommand):
    help = "Time the analytics views' refreshes and the dashboard's and API's responses."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--repeat",
            type=int,
            default=3,
            help="Rebuilds of each table, and updates of each spread.",
        )
        parser.add_argument("--requests", type=int, default=20, help="Timed requests of each page.")
        parser.add_argument(
            "--changes", type=int, default=1000, help="Bookings changed before each update."
        )
        parser.add_argument(
            "--explain",
            action="store_true",
            help="Also EXPLAIN ANALYZE each dashboard query that reads bookings or a view.",
        )

    def handle(
        self, *args, repeat: int, requests: int, changes: int, explain: bool, **options
    ) -> None:
        if repeat < 1 or requests < 1 or changes < 1:
            raise CommandError("--repeat, --requests and --changes must be at least 1.")
        organization = Organization.objects.filter(slug=SLUG).first()
        if organization is None:
            raise CommandError(
                f"No '{SLUG}' organization in this database: run "
                "`manage.py seed_benchmark --bookings 100000` first."
            )

        refresh_times = {view: _refresh_times(view, repeat) for view in ReportView}
        figures_update()  # the marks seeding left: every day of the history
        update_times = {
            spread: _update_times(organization, changes, repeat, since)
            for spread, since in (
                ("last 2 days", timezone.now() - timedelta(days=2)),
                ("last 30 days", timezone.now() - timedelta(days=30)),
                ("whole history", datetime(1970, 1, 1, tzinfo=UTC)),
            )
        }
        with scope(organization=organization):
            bookings = Booking.objects.count()
            rows = {view: VIEW_MODELS[view].objects.count() for view in ReportView}
        with platform_wide("analytics benchmark: counts over every organization"):
            all_bookings = Booking.objects.count()
            all_rows = {view: VIEW_MODELS[view].objects.count() for view in ReportView}
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            server_version = cursor.fetchone()[0].split()[0]

        self.stdout.write(
            f"Analytics benchmark, {timezone.now():%Y-%m-%d %H:%M} UTC, "
            f"PostgreSQL {server_version}: '{SLUG}' has {bookings:,} bookings "
            f"({all_bookings:,} in the database)\n"
        )
        self.stdout.write(f"Rebuilds, {repeat} of each table (each rebuilds every organization):\n")
        self._table(
            ["table", f"rows ({SLUG})", "rows (all)", "min", "median"],
            [
                [
                    view.value,
                    f"{rows[view]:,}",
                    f"{all_rows[view]:,}",
                    _ms(min(refresh_times[view])),
                    _ms(statistics.median(refresh_times[view])),
                ]
                for view in ReportView
            ],
        )

        self.stdout.write(
            f"\nUpdates after {changes:,} changed bookings, {repeat} of each (every table):\n"
        )
        self._table(
            ["bookings changed", "days recomputed", "min", "median"],
            [
                [
                    f"{changes:,}, {spread}",
                    f"{statistics.median(days for days, _ in runs):,.0f}",
                    _ms(min(seconds for _, seconds in runs)),
                    _ms(statistics.median(seconds for _, seconds in runs)),
                ]
                for spread, runs in update_times.items()
            ],
        )

        self.stdout.write(f"\nResponses, {requests} requests each after one warm-up:\n")
        owner = _owner(organization)
        results, missing = [], []
        for title, url_name, kwargs, query, sign_in in PAGES:
            try:
                url = reverse(url_name, kwargs=kwargs) + (f"?{query}" if query else "")
            except NoReverseMatch:
                missing.append(url_name)
                continue
            with _signed_in(owner, sign_in) as client:
                queries, seconds = _response_times(client, url, requests)
                if explain and sign_in == "session":
                    self._explain(client, url)
            results.append(
                [
                    title,
                    url,
                    "200",
                    str(queries),
                    _ms(statistics.median(seconds)),
                    _ms(_p95(seconds)),
                ]
            )
        if results:
            self._table(["page", "URL", "status", "queries", "median", "p95"], results)
        if missing:
            raise CommandError(
                f"URL name(s) {', '.join(missing)} do not resolve: is the analytics dashboard "
                "in this checkout? The refreshes above were measured."
            )

    def _explain(self, client: Client, url: str) -> None:
        """Each query of the page on bookings or a view: its time and how each table is read."""
        with CaptureQueriesContext(connection) as captured:
            _check(client.get(url), url)
        self.stdout.write(f"\nPlans of {url} (EXPLAIN ANALYZE):\n")
        for query in captured.captured_queries:
            sql = query["sql"]
            if "bookings_booking" not in sql and "analytics_" not in sql:
                continue
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
                result = cursor.fetchone()[0]
            explained = (json.loads(result) if isinstance(result, str) else result)[0]
            scans = "; ".join(_scans(explained["Plan"]))
            first_line = " ".join(sql.split())[:90]
            self.stdout.write(f"- {explained['Execution Time']:.1f} ms  {first_line}...\n")
            self.stdout.write(f"    {scans}\n")

    def _table(self, header: list[str], rows: list[list[str]]) -> None:
        """A Markdown table, columns padded so it reads as plain text too."""
        widths = [max(len(row[n]) for row in [header, *rows]) for n in range(len(header))]
        rule = ["-" * widths[0], *("-" * (width - 1) + ":" for width in widths[1:])]
        lines = [header, rule, *rows]
        for line in lines:
            cells = [
                cell.ljust(width) if n == 0 else cell.rjust(width)
                for n, (cell, width) in enumerate(zip(line, widths, strict=True))
            ]
            self.stdout.write("| " + " | ".join(cells) + " |")


def _refresh_times(view: ReportView, repeat: int) -> list[float]:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        if table_rebuild(view=view) is None:
            raise CommandError(f"{view.value} is being refreshed by another process; try again.")
        seconds.append(time.perf_counter() - started)
    return seconds


# A late outcome on `count` random past bookings of the organization started since `since`.
OUTCOMES_CHANGED = """
UPDATE bookings_booking
SET status = CASE status WHEN 'completed' THEN 'no_show' ELSE 'completed' END
WHERE id IN (
    SELECT id FROM bookings_booking
    WHERE organization_id = %s AND status IN ('completed', 'no_show')
        AND starts_at >= %s AND starts_at < now()
    ORDER BY random() LIMIT %s
)
"""


def _update_times(
    organization: Organization, changes: int, repeat: int, since: datetime
) -> list[tuple[int, float]]:
    """(days recomputed, seconds) of `repeat` updates, each after `changes` changed bookings."""
    runs = []
    for _ in range(repeat):
        with (
            platform_wide("analytics benchmark: outcomes recorded late"),
            connection.cursor() as cursor,
        ):
            cursor.execute(OUTCOMES_CHANGED, [organization.pk, since, changes])
        started = time.perf_counter()
        update = figures_update()
        if update is None:
            raise CommandError("The tables are being refreshed by another process; try again.")
        runs.append((update.days, time.perf_counter() - started))
    return runs


@contextmanager
def _signed_in(owner: User, sign_in: str) -> Iterator[Client]:
    """A test client signed in by session (the admin) or by knox token (the API).

    The session or token is removed afterwards: reruns leave nothing behind but the owner.
    """
    token = None
    if sign_in == "token":
        token, key = AuthToken.objects.create(user=owner)
        client = Client(headers={"authorization": f"Bearer {key}"})
    else:
        client = Client()
        client.force_login(owner)
    # The client talks as "testserver"; DEBUG off measures what production would run.
    try:
        with override_settings(ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"], DEBUG=False):
            yield client
    finally:
        if token is None:
            client.logout()
        else:
            token.delete()


def _owner(organization: Organization) -> User:
    """bench-owner@bench.example, an owner of the organization (created or promoted if needed)."""
    owner = User.objects.filter(email=OWNER_EMAIL).first() or User.objects.create_user(
        OWNER_EMAIL, password=None, full_name="Benchmark owner"
    )
    with scope(organization=organization):
        Membership.objects.update_or_create(
            organization=organization,
            user=owner,
            defaults={"role": Role.OWNER, "limited_to_locations": False},
        )
    return owner


def _response_times(client: Client, url: str, requests: int) -> tuple[int, list[float]]:
    """The warm-up's query count and each timed request's seconds; any status but 200 stops."""
    with CaptureQueriesContext(connection) as queries:
        _check(client.get(url), url)
    # Counted now: the capture slices the connection's log, which each later request clears.
    query_count = len(queries)
    seconds = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        seconds.append(time.perf_counter() - started)
        _check(response, url)
    return query_count, seconds


def _scans(node: dict) -> Iterator[str]:
    """How each table of a plan is read: by which index, returning how many rows."""
    table = node.get("Relation Name")
    if table and (table.startswith("analytics_") or table == "bookings_booking"):
        how = node["Node Type"]
        index = node.get("Index Name") or " + ".join(sorted(set(_bitmap_indexes(node))))
        yield f"{how} on {table}{f' via {index}' if index else ''}: {node['Actual Rows']} rows"
    for child in node.get("Plans", []):
        if not table:
            yield from _scans(child)


def _bitmap_indexes(node: dict) -> Iterator[str]:
    for child in node.get("Plans", []):
        if "Index Name" in child:
            yield child["Index Name"]
        yield from _bitmap_indexes(child)


def _check(response, url: str) -> None:
    if response.status_code != 200:
        body = response.content[:300].decode(errors="replace")
        raise CommandError(f"GET {url} answered {response.status_code}, not 200: {body}")


def _p95(seconds: list[float]) -> float:
    """The 95th percentile, nearest rank: of 20 requests, the second slowest."""
    return sorted(seconds)[math.ceil(0.95 * len(seconds)) - 1]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"

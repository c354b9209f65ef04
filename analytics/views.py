"""The staff dashboard in the admin: today's schedule, the chosen days' figures, CSV, refresh.

Owners see every location's figures, managers their locations', staff members their own day
(accounts.roles decides, through analytics.selectors). The CSV files are built from the very
tables the page shows, so an export never holds a figure the page would not.
"""

import csv
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.audit import audit_customers_shown
from accounts.models import AuditAction, Location, Organization
from analytics.charts import BarChart, bar_chart
from analytics.forms import DashboardFilterForm
from analytics.selectors import (
    Report,
    Schedule,
    report_for,
    report_locations,
    schedule_locations,
    today_schedule,
)
from analytics.tasks import analytics_figures_update
from config.replicas import replica_reads

SCHEDULE_TABLE = "schedule"


@dataclass
class Table:
    """A table of the dashboard, as shown and as exported."""

    slug: str
    title: str
    headers: list[str]
    rows: list[list[Any]]


@dataclass
class Dashboard:
    organization: Organization
    now: datetime
    today: date
    schedule: Schedule
    report: Report | None  # None for a role that sees no figures (a staff member)

    @cached_property
    def tables(self) -> list[Table]:
        """Built once: the page shows the first and then the others."""
        tables = [_schedule_table(self.schedule)]
        if self.report is not None:
            tables += _report_tables(self.report)
        return tables

    @property
    def charts(self) -> list[BarChart]:
        if self.report is None:
            return []
        days = self.report.days
        return [
            bar_chart("Bookings taking place", [(_day(f.day), f.taking_place) for f in days]),
            bar_chart(
                f"Revenue ({self.organization.currency})", [(_day(f.day), f.revenue) for f in days]
            ),
            bar_chart(
                "Cancellations and no-shows",
                [(_day(f.day), f.cancelled + f.no_shows) for f in days],
            ),
        ]


def _day(day: date) -> str:
    return day.isoformat()


def _dashboard(request: HttpRequest) -> tuple[DashboardFilterForm, Dashboard | None]:
    form = DashboardFilterForm(request.GET, user=request.user)
    if not form.is_valid():
        return form, None
    user, organization = request.user, form.cleaned_data["organization"]
    chosen: Location | None = form.cleaned_data["location"]
    now = timezone.now()
    visible = [chosen] if chosen else list(schedule_locations(user, organization))
    with_figures = [loc for loc in report_locations(user, organization) if loc in visible]
    report = None
    if with_figures:
        report = report_for(
            user=user,
            organization=organization,
            locations=with_figures,
            first_day=form.cleaned_data["first_day"],
            last_day=form.cleaned_data["last_day"],
            now=now,
        )
    return form, Dashboard(
        organization=organization,
        now=now,
        today=form.cleaned_data["today"],
        schedule=today_schedule(user=user, locations=visible, now=now),
        report=report,
    )


@require_GET
@replica_reads
def dashboard(request: HttpRequest) -> TemplateResponse:
    form, board = _dashboard(request)
    context = {
        **admin.site.each_context(request),
        "title": "Dashboard",
        "form": form,
        "board": board,
        "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    }
    return TemplateResponse(
        request, "analytics/dashboard.html", context, status=200 if board else 400
    )


@require_GET
@replica_reads
def dashboard_csv(request: HttpRequest, table: str) -> HttpResponse:
    form, board = _dashboard(request)
    if board is None:
        errors = "; ".join(f"{field}: {' '.join(e)}" for field, e in form.errors.items())
        return HttpResponse(errors, status=400, content_type="text/plain; charset=utf-8")
    chosen = next((t for t in board.tables if t.slug == table), None)
    if chosen is None:
        raise Http404(f"No table “{table}” on your dashboard.")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    filename = f"{board.organization.slug}-{table}-{board.today.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(chosen.headers)
    writer.writerows([_csv_value(value) for value in row] for row in chosen.rows)
    if table == SCHEDULE_TABLE:  # the one table that names customers
        audit_customers_shown(
            actor=request.user,
            action=AuditAction.CUSTOMER_EXPORTED,
            organization_id=board.organization.pk,
            customer_ids=[booking.customer_id for booking in board.schedule.bookings],
            details={"table": table},
        )
    return response


@require_POST
def dashboard_refresh(request: HttpRequest) -> HttpResponse:
    """Bring the past days up to date now: what beat does every few minutes, for when none runs."""
    _, board = _dashboard(request)
    if board is None or board.report is None:
        raise PermissionDenied("Only owners and managers refresh the figures.")
    result = analytics_figures_update.delay()
    if settings.CELERY_TASK_ALWAYS_EAGER:
        if result.get() is None:
            messages.info(request, "Another refresh was running; its figures are on the way.")
        else:
            messages.success(request, "The figures are refreshed.")
    else:
        messages.success(request, "A refresh is under way; reload in a minute.")
    return redirect(f"{reverse('admin:analytics_dashboard')}?{request.GET.urlencode()}")


def _csv_value(value: Any) -> Any:
    """A cell as text; names typed by customers cannot become spreadsheet formulas."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return f"'{value}"
    return value


def _schedule_table(schedule: Schedule) -> Table:
    return Table(
        slug=SCHEDULE_TABLE,
        title="Today's schedule",
        headers=["Starts", "Ends", "Location", "Resource", "Service", "Customer", "Status", "Code"],
        rows=[
            [
                timezone.localtime(b.starts_at, b.location.time_zone).strftime("%Y-%m-%d %H:%M"),
                timezone.localtime(b.ends_at, b.location.time_zone).strftime("%Y-%m-%d %H:%M"),
                b.location.name,
                b.resource.name,
                b.service.name,
                b.customer.full_name,
                b.get_status_display(),
                b.code,
            ]
            for b in schedule.bookings
        ],
    )


def _months(report: Report) -> str:
    """Top lists are kept per month: they count the whole months the days touch."""
    first, last = report.first_month, report.last_month
    if first == last:
        return f"{first:%B %Y} (whole month)"
    return f"{first:%B %Y} to {last:%B %Y} (whole months)"


def _report_tables(report: Report) -> list[Table]:
    return [
        Table(
            slug="days",
            title="Day by day",
            headers=[
                "Day",
                "Made",
                "Taking place",
                "Completed",
                "Cancelled",
                "No-shows",
                "Revenue",
                "Average booking value",
                "Unique customers",
            ],
            rows=[
                [
                    f.day.isoformat(),
                    f.created,
                    f.taking_place,
                    f.completed,
                    f.cancelled,
                    f.no_shows,
                    f.revenue,
                    f.average_booking_value,
                    f.unique_customers,
                ]
                for f in report.days
            ],
        ),
        Table(
            slug="utilization",
            title="Utilization per resource",
            headers=["Location", "Resource", "Booked minutes", "Open minutes", "Utilization %"],
            rows=[
                [
                    u.resource.location.name,
                    u.resource.name,
                    u.booked_minutes,
                    u.open_minutes,
                    u.utilization,
                ]
                for u in report.usage
            ],
        ),
        Table(
            slug="services",
            title=f"Top services, {_months(report)}",
            headers=["Service", "Bookings", "Revenue"],
            rows=[[o.name, o.bookings, o.revenue] for o in report.top_services],
        ),
        Table(
            slug="cars",
            title=f"Top cars, {_months(report)}",
            headers=["Car", "Bookings", "Revenue"],
            rows=[[o.name, o.bookings, o.revenue] for o in report.top_cars],
        ),
    ]

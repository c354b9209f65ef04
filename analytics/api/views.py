"""The dashboard's figures for API clients: owners and managers get the report, every staff
role today's counts (a staff member's own bookings only). accounts.roles decides, as everywhere."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from analytics.api.serializers import ReportQuerySerializer, ReportSerializer, TodaySerializer
from analytics.selectors import (
    VIEW_FIGURES,
    VIEW_SCHEDULE,
    report_for,
    report_locations,
    schedule_locations,
    today_schedule,
)
from config.api.views import OrganizationEndpoint


class AnalyticsReportView(OrganizationEndpoint):
    """Bookings, revenue, utilization and top sellers per day, from the views and today's live
    slice, for the locations the caller may see."""

    required_permission = VIEW_FIGURES
    stale_reads_ok = True

    @extend_schema(parameters=[ReportQuerySerializer], responses=ReportSerializer)
    def get(self, request: Request) -> Response:
        query = ReportQuerySerializer(data=request.query_params, context={"request": request})
        query.is_valid(raise_exception=True)
        params, organization = query.validated_data, request.organization
        locations = report_locations(request.user, organization)
        if "location" in params:
            locations = locations.filter(pk=params["location"].pk)
        report = report_for(
            user=request.user,
            organization=organization,
            locations=locations,
            first_day=params["first_day"],
            last_day=params["last_day"],
            now=timezone.now(),
        )
        return Response(ReportSerializer(report).data)


class AnalyticsTodayView(OrganizationEndpoint):
    """How many bookings take place today, by status, as far as the caller may see them."""

    required_permission = VIEW_SCHEDULE

    @extend_schema(responses=TodaySerializer)
    def get(self, request: Request) -> Response:
        schedule = today_schedule(
            user=request.user,
            locations=schedule_locations(request.user, request.organization),
            now=timezone.now(),
        )
        return Response(TodaySerializer(schedule).data)

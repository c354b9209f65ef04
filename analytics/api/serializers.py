from datetime import timedelta

from django.utils import timezone
from rest_framework import serializers

from accounts.models import Location
from accounts.tenancy import ScopedPrimaryKeyRelatedField
from analytics.selectors import (
    DEFAULT_REPORT_DAYS,
    check_report_period,
    organization_today,
    report_locations,
)
from config.api.fields import CalendarDateField


class ReportQuerySerializer(serializers.Serializer):
    first_day = CalendarDateField(
        required=False, help_text=f"First local day; {DEFAULT_REPORT_DAYS} days back by default."
    )
    last_day = CalendarDateField(required=False, help_text="Last local day; today by default.")
    location = ScopedPrimaryKeyRelatedField(
        Location, required=False, help_text="One location; all you may see by default."
    )

    def validate_location(self, location: Location) -> Location:
        request = self.context["request"]
        if not report_locations(request.user, request.organization).filter(pk=location.pk).exists():
            # Answered like a missing id: the location's existence is not the caller's business.
            raise serializers.ValidationError(
                f'Invalid pk "{location.pk}" - object does not exist.'
            )
        return location

    def validate(self, attrs: dict) -> dict:
        organization = self.context["request"].organization
        today = organization_today(organization, timezone.now())
        attrs.setdefault("last_day", today)
        attrs.setdefault("first_day", attrs["last_day"] - timedelta(days=DEFAULT_REPORT_DAYS - 1))
        check_report_period(attrs["first_day"], attrs["last_day"], today)
        return attrs


class FiguresSerializer(serializers.Serializer):
    created = serializers.IntegerField(help_text="Bookings made.")
    taking_place = serializers.IntegerField(help_text="Bookings kept, on each day they occupy.")
    completed = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    no_shows = serializers.IntegerField()
    paid_bookings = serializers.IntegerField(
        help_text="Bookings that kept money: payments above their refunds."
    )
    revenue = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        help_text="Payments less refunds of the bookings starting then, whatever their status.",
    )
    average_booking_value = serializers.DecimalField(
        max_digits=14, decimal_places=2, allow_null=True, help_text="Revenue per paid booking."
    )
    unique_customers = serializers.IntegerField()


class DayFiguresSerializer(FiguresSerializer):
    day = serializers.DateField()


class UsageSerializer(serializers.Serializer):
    resource = serializers.IntegerField(source="resource.pk")
    resource_name = serializers.CharField(source="resource.name")
    location = serializers.IntegerField(source="resource.location_id")
    booked_minutes = serializers.IntegerField()
    open_minutes = serializers.IntegerField()
    utilization = serializers.DecimalField(
        max_digits=5, decimal_places=1, allow_null=True, help_text="Percent of open time booked."
    )


class OfferingSerializer(serializers.Serializer):
    name = serializers.CharField()
    bookings = serializers.IntegerField()
    revenue = serializers.DecimalField(max_digits=14, decimal_places=2)


class RefreshSerializer(serializers.Serializer):
    view = serializers.CharField()
    as_of = serializers.DateTimeField(help_text="Days before this instant's come from the view.")


class ReportSerializer(serializers.Serializer):
    organization = serializers.SlugField(source="organization.slug")
    currency = serializers.CharField(source="organization.currency")
    first_day = serializers.DateField()
    last_day = serializers.DateField()
    locations = serializers.SerializerMethodField()
    totals = FiguresSerializer()
    days = DayFiguresSerializer(many=True)
    utilization = UsageSerializer(many=True, source="usage")
    top_services = OfferingSerializer(many=True)
    top_cars = OfferingSerializer(many=True)
    months = serializers.SerializerMethodField(
        help_text="Top services and cars count whole months."
    )
    refreshes = RefreshSerializer(many=True)

    def get_locations(self, report) -> list[int]:
        return [location.pk for location in report.locations]

    def get_months(self, report) -> list[str]:
        return [report.first_month.isoformat(), report.last_month.isoformat()]


class TodaySerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text="Bookings taking place today that you may see.")
    by_status = serializers.DictField(child=serializers.IntegerField())

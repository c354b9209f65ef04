"""Staff endpoints: the schedule, a booking's detail and timeline, and its status moves.

Who sees what is the role table's answer (accounts/roles.py): `permitted()` narrows every
queryset, so a staff member gets their own schedule, a manager their locations', an owner all;
any other booking answers 404, exactly as a missing one.
"""

from datetime import datetime, time, timedelta

from django.db.models import QuerySet, prefetch_related_objects
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.audit import audit_customers_shown, audit_record
from accounts.models import AuditAction, Location
from accounts.roles import permitted
from bookings.api.serializers import (
    CancelSerializer,
    ScheduleQuerySerializer,
    StaffBookingDetailSerializer,
    StaffBookingSerializer,
    VersionSerializer,
)
from bookings.models import Booking
from bookings.selectors import access_booking
from bookings.services import (
    STAFF_MOVES,
    booking_cancel,
)
from config.api.idempotency import idempotent
from config.api.views import OrganizationEndpoint

VIEW_BOOKING = "bookings.view_booking"
CHANGE_BOOKING = "bookings.change_booking"


def _bookings(user, perm: str) -> QuerySet:
    return permitted(user, perm, Booking.objects.all()).select_related(
        "organization", "location", "service", "resource", "customer"
    )


def _permitted_or_404(user, perm: str, obj):
    if not user.has_perm(perm, obj):
        raise Http404
    return obj


class ScheduleView(OrganizationEndpoint, generics.ListAPIView):
    """What a location or a resource has on for one to seven local days, in start order."""

    serializer_class = StaffBookingSerializer
    required_permission = VIEW_BOOKING

    @extend_schema(parameters=[ScheduleQuerySerializer])
    def get(self, request: Request, *args, **kwargs) -> Response:
        response = super().get(request, *args, **kwargs)
        # Each booking carries its customer's contact details: the trail names whom it showed.
        audit_customers_shown(
            actor=request.user,
            action=AuditAction.CUSTOMER_LISTED,
            organization_id=request.organization.pk,
            customer_ids=[row["customer"]["id"] for row in response.data["results"]],
            details={"via": "schedule"},
        )
        return response

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema asks for the model only
            return Booking.objects.none()
        query = ScheduleQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        user, params = self.request.user, query.validated_data
        bookings = _bookings(user, VIEW_BOOKING)
        if "resource" in params:
            resource = _permitted_or_404(user, "fleet.view_resource", params["resource"])
            location = resource.location
            bookings = bookings.filter(resource=resource)
        else:
            location = _permitted_or_404(user, "accounts.view_location", params["location"])
            bookings = bookings.filter(location=location)
        starts, ends = _local_days(location, params["date"], params["days"])
        return bookings.filter(starts_at__lt=ends, ends_at__gt=starts).order_by("starts_at", "pk")


def _local_days(location: Location, first_day, days: int) -> tuple[datetime, datetime]:
    zone = location.time_zone
    return (
        datetime.combine(first_day, time(0), tzinfo=zone),
        datetime.combine(first_day + timedelta(days=days), time(0), tzinfo=zone),
    )


def _with_timeline(booking: Booking) -> Booking:
    prefetch_related_objects([booking], "events__actor")
    return booking


class StaffBookingDetailView(OrganizationEndpoint, generics.RetrieveAPIView):
    """A booking with its customer and its timeline."""

    serializer_class = StaffBookingDetailSerializer
    required_permission = VIEW_BOOKING

    def get_object(self) -> Booking:
        return _with_timeline(access_booking(self.request.user, self.kwargs["code"], VIEW_BOOKING))

    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        booking = self.get_object()
        # The answer shows the customer's contact details.
        audit_record(
            actor=request.user,
            action=AuditAction.CUSTOMER_VIEWED,
            organization_id=booking.organization_id,
            target=booking.customer,
            details={"booking": booking.code},
        )
        return Response(self.get_serializer(booking).data)


class StaffBookingTransitionView(OrganizationEndpoint):
    """Move a booking along its lifecycle: confirm, start, complete, no-show or cancel."""

    required_permission = CHANGE_BOOKING

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "transition", str, OpenApiParameter.PATH, enum=[*STAFF_MOVES, "cancel"]
            )
        ],
        request=CancelSerializer,
        responses={200: StaffBookingDetailSerializer},
    )
    @idempotent
    def post(self, request: Request, code: str, transition: str):
        if transition not in (*STAFF_MOVES, "cancel"):
            raise NotFound(f"Unknown move; use one of {', '.join([*STAFF_MOVES, 'cancel'])}.")
        booking = access_booking(request.user, code, CHANGE_BOOKING)
        if transition == "cancel":
            payload = CancelSerializer(data=request.data)
            payload.is_valid(raise_exception=True)
            booking_cancel(
                actor=request.user,
                booking=booking,
                expected_version=payload.validated_data["version"],
                reason=payload.validated_data.get("reason", ""),
            )
        else:
            payload = VersionSerializer(data=request.data)
            payload.is_valid(raise_exception=True)
            _status, move = STAFF_MOVES[transition]
            move(
                actor=request.user,
                booking=booking,
                expected_version=payload.validated_data["version"],
            )
        return Response(
            StaffBookingDetailSerializer(
                _with_timeline(access_booking(request.user, code, VIEW_BOOKING))
            ).data
        )

"""A signed-in customer's bookings: make one at an organization, then list, read, cancel,
reschedule and review them across every organization they booked with.

Changes carry the `version` the app last read (a newer one answers 409 stale_version) and
accept an Idempotency-Key, so a retried request after a lost answer never books twice.
"""

from contextlib import ExitStack

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.tenancy import organization_scope
from bookings.api.serializers import (
    BookingCreatedSerializer,
    BookingCreateSerializer,
    BookingSerializer,
    CancelSerializer,
    RescheduleSerializer,
    ReviewCreatedSerializer,
    ReviewCreateSerializer,
)
from bookings.models import Booking
from bookings.selectors import account_bookings, account_organization_ids
from bookings.services import (
    account_booking_create,
    booking_cancel,
    booking_reschedule,
    car_review_create,
)
from config.api.idempotency import idempotent
from config.api.views import SIGNED_IN, OrganizationEndpoint
from config.replicas import replica_reads


class BookingCreateView(OrganizationEndpoint):
    """Book a service slot or a car rental at this organization; the answer holds the quote."""

    required_permission = SIGNED_IN

    throttle_scope = "booking_create"

    @extend_schema(request=BookingCreateSerializer, responses={201: BookingCreatedSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        payload = BookingCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        booking = account_booking_create(
            organization=request.organization, user=request.user, **payload.validated_data
        )
        return Response(BookingCreatedSerializer(booking).data, status=status.HTTP_201_CREATED)


class AccountBookingsView(APIView):
    """Base of /me/bookings/: a customer's bookings span organizations, so these views run in
    the scope of the organizations the signed-in user booked with, entered once the token has
    been checked (the tenant middleware cannot: the URL names no organization)."""

    def dispatch(self, request, *args, **kwargs):
        with ExitStack() as self._scopes:
            return super().dispatch(request, *args, **kwargs)

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        self._scopes.enter_context(organization_scope(account_organization_ids(request.user)))

    def get_queryset(self):
        return account_bookings(self.request.user).select_related(
            "organization", "location", "service", "resource"
        )

    def get_booking(self, code: str) -> Booking:
        return get_object_or_404(self.get_queryset(), code=code)


class AccountBookingListView(AccountBookingsView, generics.ListAPIView):
    """The signed-in customer's bookings at every organization, newest first."""

    serializer_class = BookingSerializer

    def get_queryset(self):
        return super().get_queryset().order_by("-starts_at", "-pk")

    @replica_reads  # read-your-writes keeps a customer who just booked on the primary
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class AccountBookingDetailView(AccountBookingsView, generics.RetrieveAPIView):
    """One of the signed-in customer's bookings, by its confirmation code."""

    serializer_class = BookingSerializer
    lookup_field = "code"


class AccountBookingCancelView(AccountBookingsView):
    """Cancel, up to the organization's cancellation cut-off before the start."""

    @extend_schema(request=CancelSerializer, responses={200: BookingSerializer})
    @idempotent
    def post(self, request: Request, code: str) -> Response:
        booking = self.get_booking(code)
        payload = CancelSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        booking = booking_cancel(
            actor=request.user,
            booking=booking,
            expected_version=payload.validated_data["version"],
            reason=payload.validated_data.get("reason", ""),
        )
        return Response(BookingSerializer(booking).data)


class AccountBookingRescheduleView(AccountBookingsView):
    """Move to another free slot (or rental period), up to the cancellation cut-off."""

    @extend_schema(request=RescheduleSerializer, responses={200: BookingSerializer})
    @idempotent
    def post(self, request: Request, code: str) -> Response:
        booking = self.get_booking(code)
        payload = RescheduleSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        booking = booking_reschedule(
            actor=request.user,
            booking=booking,
            expected_version=payload.validated_data["version"],
            starts_at=payload.validated_data["starts_at"],
            ends_at=payload.validated_data.get("ends_at"),
        )
        return Response(BookingSerializer(booking).data)


class AccountBookingReviewView(AccountBookingsView):
    """Review the car of a completed rental; it shows once the business approves it."""

    @extend_schema(request=ReviewCreateSerializer, responses={201: ReviewCreatedSerializer})
    @idempotent
    def post(self, request: Request, code: str) -> Response:
        booking = self.get_booking(code)
        payload = ReviewCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        review = car_review_create(booking=booking, **payload.validated_data)
        return Response(ReviewCreatedSerializer(review).data, status=status.HTTP_201_CREATED)

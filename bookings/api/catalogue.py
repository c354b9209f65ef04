"""The public catalogue of an organization: who it is, where, what it offers, when it is free.

Every view runs in the organization's scope, entered by the tenant middleware from the URL.
Availability is served from the engine's cache; ConditionalGetMiddleware adds the ETag that lets
a polling app get a bodiless 304 when nothing changed.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Location
from bookings.api.serializers import (
    LocationSerializer,
    OrganizationSerializer,
    ServiceAvailabilityQuerySerializer,
    ServiceAvailabilitySerializer,
    ServiceSerializer,
    availability_body,
)
from bookings.models import Service, ServiceKind
from bookings.selectors import offered_services, service_slots
from config.api.views import PUBLIC, OrganizationEndpoint

IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    str,
    OpenApiParameter.HEADER,
    description="The ETag of an earlier answer: 304 with no body if nothing changed since.",
)
NOT_MODIFIED = OpenApiResponse(description="Nothing changed since the ETag in If-None-Match.")


class PublicEndpoint(OrganizationEndpoint):
    """Readable by anyone, signed in or not; its reads may come from a replica."""

    required_permission = PUBLIC
    stale_reads_ok = True


class OrganizationView(PublicEndpoint, generics.RetrieveAPIView):
    """The organization named in the URL."""

    serializer_class = OrganizationSerializer

    def get_object(self):
        return self.request.organization


class LocationListView(PublicEndpoint, generics.ListAPIView):
    """The organization's locations with their weekly opening hours."""

    serializer_class = LocationSerializer

    def get_queryset(self):
        return Location.objects.prefetch_related("opening_hours").order_by("name", "pk")


class ServiceListView(PublicEndpoint, generics.ListAPIView):
    """What the organization offers, with prices in its currency."""

    serializer_class = ServiceSerializer

    def get_queryset(self):
        return offered_services()


class ServiceDetailView(PublicEndpoint, generics.RetrieveAPIView):
    serializer_class = ServiceSerializer

    def get_queryset(self):
        return offered_services()


class ServiceAvailabilityView(PublicEndpoint):
    """Free slots of an appointment service at a location, day by day in its time zone."""

    stale_reads_ok = False  # cached by version: computed on the primary (config/replicas.py)

    @extend_schema(
        parameters=[ServiceAvailabilityQuerySerializer, IF_NONE_MATCH],
        responses={200: ServiceAvailabilitySerializer, 304: NOT_MODIFIED},
    )
    def get(self, request: Request, pk: int) -> Response:
        service = get_object_or_404(
            Service.objects.filter(is_active=True, kind=ServiceKind.APPOINTMENT), pk=pk
        )
        query = ServiceAvailabilityQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        location = query.validated_data["location"]
        slots = service_slots(
            service=service,
            location=location,
            date_from=query.validated_data["date_from"],
            date_to=query.validated_data["date_to"],
            resource=query.validated_data.get("resource"),
        )
        body = availability_body(
            service=service.pk,
            location=location,
            date_from=query.validated_data["date_from"],
            date_to=query.validated_data["date_to"],
            slots=slots,
        )
        return Response(body)

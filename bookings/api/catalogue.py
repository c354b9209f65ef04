"""The public catalogue of an organization: who it is, where, what it offers, when it is free.

Every view runs in the organization's scope, entered by the tenant middleware from the URL.
The lists and availability read the organization's reference data from the process's copy of
its current generation (bookings.reference_cache): one query for the generation (availability:
with its days') instead of a query per table, and the lists' bodies are written once per
generation. Their anonymous answers are also kept whole (bookings.api.answers): `cached_answer`.
Availability is served from the engine's cache; ConditionalGetMiddleware adds the ETag that lets
a polling app get a bodiless 304 when nothing changed.
"""

from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Location
from bookings import availability_cache, reference_cache
from bookings.api.answers import AvailabilityAnswer, ReferenceAnswer
from bookings.api.serializers import (
    LocationSerializer,
    OrganizationSerializer,
    ServiceAvailabilityQuerySerializer,
    ServiceAvailabilitySerializer,
    ServiceSerializer,
    availability_body,
)
from bookings.selectors import days_between, offered_services, service_slots, slots_hold_until
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
    cached_answer = ReferenceAnswer()

    def get_object(self):
        return self.request.organization


class LocationListView(PublicEndpoint, generics.ListAPIView):
    """The organization's locations with their weekly opening hours."""

    serializer_class = LocationSerializer
    cached_answer = ReferenceAnswer()

    def get_queryset(self):
        return Location.objects.prefetch_related("opening_hours").order_by("name", "pk")

    def list(self, request: Request, *args, **kwargs) -> Response:
        reference = reference_cache.current_reference(request.organization.pk)
        rows = reference.answer(
            "locations", lambda: LocationSerializer(reference.locations.values(), many=True).data
        )
        return self.get_paginated_response(self.paginate_queryset(rows))


class ServiceListView(PublicEndpoint, generics.ListAPIView):
    """What the organization offers, with prices in its currency."""

    serializer_class = ServiceSerializer
    cached_answer = ReferenceAnswer()

    def get_queryset(self):
        return offered_services()

    def list(self, request: Request, *args, **kwargs) -> Response:
        reference = reference_cache.current_reference(request.organization.pk)
        rows = reference.answer(
            "services", lambda: ServiceSerializer(reference.services.values(), many=True).data
        )
        return self.get_paginated_response(self.paginate_queryset(rows))


class ServiceDetailView(PublicEndpoint, generics.RetrieveAPIView):
    serializer_class = ServiceSerializer

    def get_queryset(self):
        return offered_services()


class ServiceAvailabilityView(PublicEndpoint):
    """Free slots of an appointment service at a location, day by day in its time zone."""

    stale_reads_ok = False  # cached by version: computed on the primary (config/replicas.py)
    cached_answer = AvailabilityAnswer()

    @extend_schema(
        parameters=[ServiceAvailabilityQuerySerializer, IF_NONE_MATCH],
        responses={200: ServiceAvailabilitySerializer, 304: NOT_MODIFIED},
    )
    def get(self, request: Request, pk: int) -> Response:
        query = ServiceAvailabilityQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        asked = query.validated_data
        # One query: the generations of the days and of the reference data, which then comes
        # from the process (bookings.reference_cache) and the days from the cache.
        generations = availability_cache.generations(
            organization_id=request.organization.pk,
            location_id=asked["location"],
            days=days_between(asked["date_from"], asked["date_to"]),
        )
        reference = reference_cache.reference_of(request.organization.pk, generations.reference)
        service = reference.appointment_service(pk)
        if service is None:
            raise Http404("No Service matches the given query.")  # as get_object_or_404 says
        location = reference.locations.get(asked["location"])
        if location is None:
            raise query.fields["location"].missing(asked["location"])
        resource = None
        if "resource" in asked:
            resource = reference.resources.get(asked["resource"])
            if resource is None:
                raise query.fields["resource"].missing(asked["resource"])
        now = timezone.now()
        slots = service_slots(
            service=service,
            location=location,
            date_from=asked["date_from"],
            date_to=asked["date_to"],
            resource=resource,
            now=now,
            generations=generations,
        )
        body = availability_body(
            service=service.pk,
            location=location,
            date_from=asked["date_from"],
            date_to=asked["date_to"],
            slots=slots,
        )
        response = Response(body)
        # The kept answer (bookings.api.answers) must not outlive the first slot's notice.
        response.answer_expires = slots_hold_until(
            slots, service=service, location=location, date_to=asked["date_to"], now=now
        )
        return response

"""The public car catalogue of a rental company: search, a car, its free periods, its reviews."""

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from bookings.api.catalogue import IF_NONE_MATCH, NOT_MODIFIED, PublicView
from bookings.api.serializers import DateRangeQuerySerializer
from bookings.selectors import car_free_periods
from fleet.api.filters import CarFilter
from fleet.api.serializers import CarAvailabilitySerializer, CarReviewSerializer, CarSerializer
from fleet.models import CarReview
from fleet.selectors import bookable_cars, car_reviews_published


class CarListView(PublicView, generics.ListAPIView):
    """Search the fleet; filters combine, and `ordering` sorts by price or rating."""

    serializer_class = CarSerializer
    filterset_class = CarFilter

    def get_queryset(self):
        return bookable_cars()


class CarDetailView(PublicView, generics.RetrieveAPIView):
    serializer_class = CarSerializer

    def get_queryset(self):
        return bookable_cars()


class CarAvailabilityView(PublicView):
    """When the car is free between two local dates, as periods in its location's time zone."""

    @extend_schema(
        parameters=[DateRangeQuerySerializer, IF_NONE_MATCH],
        responses={200: CarAvailabilitySerializer, 304: NOT_MODIFIED},
    )
    def get(self, request: Request, organization_slug: str, pk: int) -> Response:
        car = get_object_or_404(bookable_cars(), pk=pk)
        query = DateRangeQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        periods = car_free_periods(car=car, **query.validated_data)
        zone = car.resource.location.time_zone
        with timezone.override(zone):
            body = CarAvailabilitySerializer(
                {
                    "car": car.pk,
                    "time_zone": str(zone),
                    **query.validated_data,
                    "free_periods": [{"starts_at": s, "ends_at": e} for s, e in periods],
                }
            ).data
        return Response(body)


class CarReviewListView(PublicView, generics.ListAPIView):
    """The car's approved reviews, newest first."""

    serializer_class = CarReviewSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema asks for the model only
            return CarReview.objects.none()
        return car_reviews_published(get_object_or_404(bookable_cars(), pk=self.kwargs["pk"]))

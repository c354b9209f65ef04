"""The public car catalogue of a rental company: search, a car, its free periods, its reviews.

Searching goes through bookings.selectors.car_search, the same search the car pages use.
"""

from datetime import UTC

from django import forms
from django.db.models import F
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from bookings.api.catalogue import IF_NONE_MATCH, NOT_MODIFIED, PublicEndpoint
from bookings.api.serializers import DateRangeQuerySerializer
from bookings.models import CarReview
from bookings.selectors import bookable_cars, car_free_periods, car_reviews_published, car_search
from config.api.fields import (
    OUT_OF_RANGE,
    AwareDateTimeFilter,
    IdFilter,
    WholeNumberFilter,
    in_platform_years,
)
from fleet.models import Car, CarFeature, Transmission

# The criteria the car pages search by too; the filter hands them to car_search.
CAR_SEARCH_FIELDS = ("location", "features", "transmission", "seats_min", "free_from", "free_to")


class CarSerializer(serializers.ModelSerializer):
    location = serializers.IntegerField(source="resource.location_id")
    currency = serializers.CharField(source="organization.currency")

    class Meta:
        model = Car
        fields = [
            "id",
            "location",
            "make",
            "model",
            "year",
            "daily_rate",
            "currency",
            "features",
            "seats",
            "transmission",
            "average_rating",
            "review_count",
        ]


class CarReviewSerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField(help_text="The reviewer's first name only.")

    class Meta:
        model = CarReview
        fields = ["rating", "comment", "author", "created_at"]

    def get_author(self, review: CarReview) -> str:
        return review.customer.full_name.split(" ")[0]


class FreePeriodSerializer(serializers.Serializer):
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()


class CarAvailabilitySerializer(serializers.Serializer):
    car = serializers.IntegerField()
    time_zone = serializers.CharField()
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    free_periods = FreePeriodSerializer(many=True)


class NullsLastOrderingFilter(filters.OrderingFilter):
    """Orders with unrated cars last either way, and by id among equals so pages are stable."""

    def filter(self, qs, value):
        if not value:
            return qs
        ordering = []
        for param in value:
            field = F(self.param_map[param.lstrip("-")])
            ordering.append(
                field.desc(nulls_last=True) if param.startswith("-") else field.asc(nulls_last=True)
            )
        return qs.order_by(*ordering, "pk")


class CarFilterForm(forms.Form):
    def clean(self) -> dict:
        data = super().clean()
        # "ordering=" or "price,": an empty entry is a typo, not a request for the default order.
        if "" in self.data.get("ordering", "x").split(","):
            self.add_error("ordering", "Give price, -price, rating or -rating; no empty entry.")
        for name in ("free_from", "free_to"):
            instant = data.get(name)
            if instant is None:
                continue
            if not in_platform_years(instant):
                self.add_error(name, OUT_OF_RANGE)
            # In UTC, as PostgreSQL takes no offset beyond 15:59.
            data[name] = instant.astimezone(UTC)
        free_from, free_to = data.get("free_from"), data.get("free_to")
        if (free_from is None) != (free_to is None):
            raise forms.ValidationError("Give both free_from and free_to, or neither.")
        if free_from and free_to and free_to <= free_from:
            self.add_error("free_to", "Must be after free_from.")
        return data


class CarFilter(filters.FilterSet):
    location = IdFilter(field_name="resource__location", help_text="A location id.")
    features = filters.MultipleChoiceFilter(
        choices=CarFeature.choices,
        help_text="Cars with all of these features; repeat the parameter for each.",
    )
    seats_min = WholeNumberFilter(field_name="seats", lookup_expr="gte")
    transmission = filters.ChoiceFilter(choices=Transmission.choices)
    price_min = filters.NumberFilter(field_name="daily_rate", lookup_expr="gte")
    price_max = filters.NumberFilter(field_name="daily_rate", lookup_expr="lte")
    rating_min = filters.NumberFilter(field_name="average_rating", lookup_expr="gte")
    free_from = AwareDateTimeFilter(help_text="With free_to: no booking or maintenance in between.")
    free_to = AwareDateTimeFilter()
    ordering = NullsLastOrderingFilter(
        fields=(("daily_rate", "price"), ("average_rating", "rating")),
        help_text="price, -price, rating or -rating.",
    )

    class Meta:
        model = Car
        fields: list[str] = []
        form = CarFilterForm

    def filter_queryset(self, queryset):
        """The search criteria go through the one car search of pages and API (car_search);
        the other filters (price, rating, ordering) are django-filter's own."""
        data = self.form.cleaned_data
        queryset = car_search(queryset, **{name: data.get(name) for name in CAR_SEARCH_FIELDS})
        for name, value in data.items():
            if name not in CAR_SEARCH_FIELDS:
                queryset = self.filters[name].filter(queryset, value)
        return queryset


class CarListView(PublicEndpoint, generics.ListAPIView):
    """Search the fleet; filters combine, and `ordering` sorts by price or rating."""

    serializer_class = CarSerializer
    filterset_class = CarFilter

    def get_queryset(self):
        return bookable_cars()


class CarDetailView(PublicEndpoint, generics.RetrieveAPIView):
    serializer_class = CarSerializer

    def get_queryset(self):
        return bookable_cars()


class CarAvailabilityView(PublicEndpoint):
    """When the car is free between two local dates, as periods in its location's time zone."""

    stale_reads_ok = False  # cached by version: computed on the primary (config/replicas.py)

    @extend_schema(
        parameters=[DateRangeQuerySerializer, IF_NONE_MATCH],
        responses={200: CarAvailabilitySerializer, 304: NOT_MODIFIED},
    )
    def get(self, request: Request, pk: int) -> Response:
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


class CarReviewListView(PublicEndpoint, generics.ListAPIView):
    """The car's approved reviews, newest first."""

    serializer_class = CarReviewSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema asks for the model only
            return CarReview.objects.none()
        return car_reviews_published(get_object_or_404(bookable_cars(), pk=self.kwargs["pk"]))

"""The car catalogue's search: `?features=gps&features=tow_bar&seats_min=5&ordering=-rating`."""

from django import forms
from django.db.models import F
from django_filters import rest_framework as filters

from fleet.models import Car, CarFeature, Transmission
from fleet.selectors import cars_free_between


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


class CarSearchForm(forms.Form):
    def clean(self) -> dict:
        data = super().clean()
        free_from, free_to = data.get("free_from"), data.get("free_to")
        if (free_from is None) != (free_to is None):
            raise forms.ValidationError("Give both free_from and free_to, or neither.")
        if free_from and free_to and free_to <= free_from:
            self.add_error("free_to", "Must be after free_from.")
        return data


class CarFilter(filters.FilterSet):
    location = filters.NumberFilter(field_name="resource__location", help_text="A location id.")
    features = filters.MultipleChoiceFilter(
        choices=CarFeature.choices,
        method="filter_features",
        help_text="Cars with all of these features; repeat the parameter for each.",
    )
    seats_min = filters.NumberFilter(field_name="seats", lookup_expr="gte")
    transmission = filters.ChoiceFilter(choices=Transmission.choices)
    price_min = filters.NumberFilter(field_name="daily_rate", lookup_expr="gte")
    price_max = filters.NumberFilter(field_name="daily_rate", lookup_expr="lte")
    rating_min = filters.NumberFilter(field_name="average_rating", lookup_expr="gte")
    free_from = filters.IsoDateTimeFilter(
        method="filter_free", help_text="With free_to: no booking or maintenance in between."
    )
    free_to = filters.IsoDateTimeFilter(method="filter_free")
    ordering = NullsLastOrderingFilter(
        fields=(("daily_rate", "price"), ("average_rating", "rating")),
        help_text="price, -price, rating or -rating.",
    )

    class Meta:
        model = Car
        fields: list[str] = []
        form = CarSearchForm

    def filter_features(self, queryset, name, value):
        return queryset.filter(features__contains=list(value)) if value else queryset

    def filter_free(self, queryset, name, value):
        if name == "free_to":
            return queryset  # applied together with free_from
        return cars_free_between(queryset, value, self.form.cleaned_data["free_to"])

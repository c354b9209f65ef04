"""The booking pages' forms. They turn what a customer typed into aware datetimes and clean
values, with a message next to each field; the rules of booking stay in bookings.services."""

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import phonenumbers
from django import forms
from django.utils import timezone
from phonenumber_field.formfields import PhoneNumberField

from accounts.models import Location
from accounts.tenancy import ScopedModelChoiceField
from bookings.models import VehicleType
from bookings.pricing import VehiclePrice
from config.api.fields import FIRST_DAY, LAST_DAY, wall_clock_instant
from fleet.models import CarFeature, Transmission


class InstantField(forms.DateTimeField):
    """A hidden ISO 8601 instant carried from one step to the next; it must have an offset."""

    widget = forms.HiddenInput

    def to_python(self, value):
        instant = super().to_python(value)
        if instant is not None and not (FIRST_DAY.year <= instant.year <= LAST_DAY.year):
            raise forms.ValidationError("This time is out of range.", code="out_of_range")
        return instant

    def prepare_value(self, value):
        return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value


class BookingChoiceForm(forms.Form):
    """What is being booked, carried in the query string and hidden fields between steps."""

    starts_at = InstantField()
    ends_at = InstantField(required=False)
    car = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    # The person chosen to do it ("choose your barber"); none: anyone free.
    resource = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    # Drawn when the review is shown; the booking carries it, so posting it twice books once.
    submission = forms.RegexField(r"^[0-9a-f]{32}$", required=False, widget=forms.HiddenInput)

    def __init__(self, *args, is_rental: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["ends_at"].required = self.fields["car"].required = is_rental

    def clean(self) -> dict:
        data = super().clean()
        starts_at, ends_at = data.get("starts_at"), data.get("ends_at")
        if starts_at and ends_at and ends_at <= starts_at:
            self.add_error("ends_at", "The return must be after the pick-up.")
        return data


def phone_hint(region: str) -> str:
    """How to write a phone number for a business in `region`: a local example, or the country
    code for a number from elsewhere (e.g. "070-123 45 67 or +46…" in Sweden)."""
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    if example is None:
        return "Optional. With the country code, e.g. +358…"
    national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
    return (
        f"Optional. E.g. {national} or +{example.country_code}…; "
        "a number from another country with its country code."
    )


class BookingDetailsForm(forms.Form):
    """The customer's contact details and wishes."""

    full_name = forms.CharField(label="Full name", max_length=200)
    email = forms.EmailField(label="Email", help_text="Your confirmation is sent here.")
    phone = PhoneNumberField(label="Phone", required=False)
    vehicle_type = forms.ChoiceField(
        label="Vehicle type", choices=VehicleType.choices, help_text="The price depends on it."
    )
    notes = forms.CharField(
        label="Notes for us",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(
        self,
        *args,
        region: str,
        vehicle_prices: list[VehiclePrice] | None = None,
        currency: str = "",
        **kwargs,
    ) -> None:
        """`region`: the location's country, in which a number without a country code is read.
        `vehicle_prices`: the vehicle types and their prices, when the price depends on it."""
        super().__init__(*args, **kwargs)
        if vehicle_prices:
            self.fields["vehicle_type"].choices = [
                (row.vehicle_type, f"{row.label} — {row.price} {currency}")
                for row in vehicle_prices
            ]
        else:
            del self.fields["vehicle_type"]
        self.fields["phone"] = PhoneNumberField(
            label="Phone", required=False, region=region, help_text=phone_hint(region)
        )
        self.fields["full_name"].widget.attrs["autocomplete"] = "name"
        self.fields["email"].widget.attrs["autocomplete"] = "email"
        self.fields["phone"].widget.attrs.update(autocomplete="tel", type="tel")

    def vehicle_type_label(self) -> str:
        return VehicleType(self.cleaned_data["vehicle_type"]).label

    def phone_understood(self) -> str:
        """The number as it was read, in international format, for the review to show."""
        phone = self.cleaned_data.get("phone")
        return phone.as_international if phone else ""

    def clean_full_name(self) -> str:
        name = self.cleaned_data["full_name"].strip()
        if not name:
            raise forms.ValidationError("Please tell us your name.")
        return name


class RentalPeriodForm(forms.Form):
    """Pick-up and return as the location's wall clock shows them."""

    pickup_date = forms.DateField(label="Pick-up date", widget=forms.DateInput({"type": "date"}))
    pickup_time = forms.TimeField(
        label="Pick-up time", initial=time(10), widget=forms.TimeInput({"type": "time"})
    )
    return_date = forms.DateField(label="Return date", widget=forms.DateInput({"type": "date"}))
    return_time = forms.TimeField(
        label="Return time", initial=time(10), widget=forms.TimeInput({"type": "time"})
    )

    def __init__(self, *args, zone: ZoneInfo | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.zone = zone

    def location_zone(self) -> ZoneInfo | None:
        """The zone the times are read in; None until the location is known."""
        return self.zone

    def clean(self) -> dict:
        data = super().clean()
        zone = self.location_zone()
        if zone is None:
            return data
        for field in ("pickup", "return"):
            day, at = data.get(f"{field}_date"), data.get(f"{field}_time")
            if day is None or at is None:
                continue
            if not FIRST_DAY <= day <= LAST_DAY:
                self.add_error(f"{field}_date", "Choose a date within this century.")
                continue
            try:
                data[f"{field}_at"] = wall_clock_instant(day, at, zone)
            except ValueError as error:
                self.add_error(f"{field}_time", str(error))
        pickup_at, return_at = data.get("pickup_at"), data.get("return_at")
        if pickup_at and pickup_at < timezone.now():
            self.add_error("pickup_date", "The pick-up is in the past.")
        if pickup_at and return_at and return_at <= pickup_at:
            self.add_error("return_date", "The return must be after the pick-up.")
        return data

    @classmethod
    def initial_for(cls, start: datetime, end: datetime, zone: ZoneInfo) -> dict:
        start, end = start.astimezone(zone), end.astimezone(zone)
        return {
            "pickup_date": start.date(),
            "pickup_time": start.time().replace(second=0, microsecond=0),
            "return_date": end.date(),
            "return_time": end.time().replace(second=0, microsecond=0),
        }


class CarSearchForm(RentalPeriodForm):
    """The fleet search: where, when, and what the car must have."""

    location = ScopedModelChoiceField(queryset=Location.objects.none(), label="Location")
    features = forms.MultipleChoiceField(
        label="Must have",
        choices=CarFeature.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    transmission = forms.ChoiceField(
        label="Transmission", choices=[("", "Any"), *Transmission.choices], required=False
    )
    seats_min = forms.IntegerField(
        label="Seats at least", min_value=1, max_value=20, required=False
    )

    field_order = ["location", "pickup_date", "pickup_time", "return_date", "return_time"]

    def __init__(self, *args, locations, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = locations

    def location_zone(self) -> ZoneInfo | None:
        location = self.cleaned_data.get("location")
        return location.time_zone if location else None


class CancelForm(forms.Form):
    REASONS = [
        ("Change of plans", "My plans changed"),
        ("Booked by mistake", "I booked by mistake"),
        ("Found another time", "I found another time"),
        ("Other", "Another reason"),
    ]

    reason = forms.ChoiceField(label="Why are you cancelling?", choices=REASONS)
    details = forms.CharField(
        label="Anything to add?",
        required=False,
        max_length=400,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def reason_text(self) -> str:
        details = self.cleaned_data["details"].strip()
        return (
            f"{self.cleaned_data['reason']}: {details}" if details else self.cleaned_data["reason"]
        )


class RescheduleForm(forms.Form):
    """Another start for an appointment, checked against the version the customer saw."""

    starts_at = InstantField()
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def new_period(self) -> tuple[datetime, None]:
        return self.cleaned_data["starts_at"], None


class RentalRescheduleForm(RentalPeriodForm):
    """Other pick-up and return times for a rental."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def new_period(self) -> tuple[datetime, datetime]:
        return self.cleaned_data["pickup_at"], self.cleaned_data["return_at"]


class BookingLookupForm(forms.Form):
    """The fallback when the emailed link is lost: the confirmation code and the email."""

    code = forms.CharField(
        label="Confirmation code",
        max_length=12,
        help_text="The 8 letters and digits in your confirmation email.",
    )
    email = forms.EmailField(label="Email", help_text="The address you booked with.")

    def clean_code(self) -> str:
        return self.cleaned_data["code"].strip().upper().replace(" ", "")

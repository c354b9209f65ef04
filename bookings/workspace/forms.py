"""The desk's forms. Times are typed on the location's wall clock and become aware instants
here (a time the clocks skip is refused); every rule of booking stays in bookings.services."""

from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django import forms
from django.db.models import QuerySet
from phonenumber_field.formfields import PhoneNumberField

from accounts.models import Customer, Location
from accounts.tenancy import ScopedModelChoiceField
from bookings.models import BlockKind, PaymentMethod, Service, ServiceKind, VehicleType
from config.api.fields import wall_clock_instant
from fleet.models import Resource


class LocalTimeMixin:
    """Reads `<prefix>_date` + `<prefix>_time` as an instant on `self.zone`'s wall clock."""

    zone: ZoneInfo

    def instant(self, data: dict, prefix: str) -> datetime | None:
        day, at = data.get(f"{prefix}_date"), data.get(f"{prefix}_time")
        if day is None or at is None:
            return None
        try:
            return wall_clock_instant(day, at, self.zone)
        except ValueError as error:
            self.add_error(f"{prefix}_time", str(error))
            return None


def _date_field(label: str) -> forms.DateField:
    return forms.DateField(label=label, widget=forms.DateInput({"type": "date"}))


def _time_field(label: str) -> forms.TimeField:
    return forms.TimeField(label=label, widget=forms.TimeInput({"type": "time", "step": 300}))


class DeskBookingForm(LocalTimeMixin, forms.Form):
    """Book for a customer who is at the desk or on the phone."""

    customer = ScopedModelChoiceField(
        queryset=Customer.objects.none(),
        required=False,
        widget=forms.RadioSelect,
        label="Customer",
        empty_label=None,
    )
    full_name = forms.CharField(label="Name", max_length=200, required=False)
    phone = PhoneNumberField(label="Phone", required=False)
    email = forms.EmailField(label="Email (optional)", required=False)
    service = ScopedModelChoiceField(queryset=Service.objects.none(), label="Service")
    resource = ScopedModelChoiceField(
        queryset=Resource.objects.none(), required=False, label="Resource", empty_label="Any free"
    )
    start_date = _date_field("Date")
    start_time = _time_field("Start")
    end_date = forms.DateField(
        label="Return date (rentals)", required=False, widget=forms.DateInput({"type": "date"})
    )
    end_time = forms.TimeField(
        label="Return time (rentals)", required=False, widget=forms.TimeInput({"type": "time"})
    )
    vehicle_type = forms.ChoiceField(
        label="Vehicle type", choices=[("", "-"), *VehicleType.choices], required=False
    )
    notes = forms.CharField(label="Notes", required=False, widget=forms.Textarea({"rows": 2}))
    # Drawn when the form is shown: the same form posted twice (a double click) books once.
    submission = forms.RegexField(r"^[0-9a-f]{32}$", required=False, widget=forms.HiddenInput)
    outside_hours_reason = forms.CharField(
        label="Book outside opening hours because…",
        required=False,
        max_length=200,
        help_text="Only to override the opening hours; the reason is kept in the timeline.",
    )

    def __init__(self, *args, location: Location, customers: QuerySet, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.location, self.zone = location, location.time_zone
        self.fields["customer"].queryset = customers
        self.fields["service"].queryset = Service.objects.filter(
            is_active=True, resources__location=location, resources__is_active=True
        ).distinct()
        self.fields["resource"].queryset = Resource.objects.filter(
            location=location, is_active=True
        )

    def clean(self) -> dict:
        data = super().clean()
        if not data.get("customer") and not data.get("full_name", "").strip():
            self.add_error("full_name", "Choose a customer above, or give the new one's name.")
        if not data.get("customer") and not (data.get("phone") or data.get("email")):
            self.add_error("phone", "A new customer needs a phone number or an email.")
        data["starts_at"] = self.instant(data, "start")
        service = data.get("service")
        if service is not None and service.kind == ServiceKind.RENTAL:
            data["ends_at"] = self.instant(data, "end")
            if data["ends_at"] is None and not self.has_error("end_time"):
                self.add_error("end_date", "A rental needs a return date and time.")
        else:
            data["ends_at"] = None
        return data


class MoveForm(LocalTimeMixin, forms.Form):
    """Another time and/or resource for a booking, checked against the version staff saw."""

    start_date = _date_field("New date")
    start_time = _time_field("New start")
    end_date = forms.DateField(
        label="New return date (rentals)",
        required=False,
        widget=forms.DateInput({"type": "date"}),
    )
    end_time = forms.TimeField(
        label="New return time (rentals)",
        required=False,
        widget=forms.TimeInput({"type": "time"}),
    )
    resource = ScopedModelChoiceField(
        queryset=Resource.objects.none(), required=False, label="Resource", empty_label="Any free"
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args, booking, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.booking, self.zone = booking, booking.location.time_zone
        self.fields["resource"].queryset = booking.service.resources.filter(
            location=booking.location, is_active=True
        )

    @classmethod
    def initial_for(cls, booking) -> dict:
        zone = booking.location.time_zone
        start, end = booking.starts_at.astimezone(zone), booking.ends_at.astimezone(zone)
        return {
            "start_date": start.date(),
            "start_time": start.time().replace(second=0, microsecond=0),
            "end_date": end.date(),
            "end_time": end.time().replace(second=0, microsecond=0),
            "resource": booking.resource_id,
            "version": booking.version,
        }

    def clean(self) -> dict:
        data = super().clean()
        data["starts_at"] = self.instant(data, "start")
        is_rental = self.booking.service.kind == ServiceKind.RENTAL
        data["ends_at"] = self.instant(data, "end") if is_rental else None
        return data


class CancelForm(forms.Form):
    """Staff cancel with a reason: it goes into the timeline and the customer's email."""

    reason = forms.CharField(label="Reason for cancelling", max_length=500)
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class StatusForm(forms.Form):
    """A lifecycle move from the booking's page: the move's name and the version staff saw."""

    move = forms.CharField(max_length=20)
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class BlockForm(LocalTimeMixin, forms.Form):
    """Block a resource's time: a period, or the same period every week for a while."""

    resource = ScopedModelChoiceField(queryset=Resource.objects.none(), label="Resource")
    kind = forms.ChoiceField(choices=BlockKind.choices, initial=BlockKind.BLOCKED, label="What")
    reason = forms.CharField(label="Reason", max_length=200, initial="Lunch")
    start_date = _date_field("Date")
    start_time = _time_field("From")
    end_date = _date_field("Until date")
    end_time = _time_field("Until")
    weeks = forms.IntegerField(label="Repeat weekly, weeks", min_value=1, max_value=52, initial=1)

    def __init__(self, *args, resources: QuerySet, zone: ZoneInfo, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.zone = zone
        self.fields["resource"].queryset = resources

    def clean(self) -> dict:
        data = super().clean()
        data["starts_at"] = self.instant(data, "start")
        data["ends_at"] = self.instant(data, "end")
        if data["starts_at"] and data["ends_at"] and data["ends_at"] <= data["starts_at"]:
            self.add_error("end_time", "The block must end after it starts.")
        return data


def default_block_period(day, at: time) -> dict:
    """A new block starts where it was asked for and lasts an hour."""
    start = datetime.combine(day, at)
    end = start + timedelta(hours=1)
    return {
        "start_date": start.date(),
        "start_time": start.time(),
        "end_date": end.date(),
        "end_time": end.time(),
    }


class PaymentForm(forms.Form):
    """Money taken or given back at the desk, in the organization's currency."""

    KINDS = [("payment", "Payment"), ("deposit", "Deposit"), ("refund", "Refund")]

    kind = forms.ChoiceField(label="What", choices=KINDS, initial="payment")
    amount = forms.DecimalField(label="Amount", min_value=Decimal("0.01"), decimal_places=2)
    method = forms.ChoiceField(label="Method", choices=PaymentMethod.choices, initial="card")
    note = forms.CharField(label="Note", required=False, max_length=200)
    # Drawn when the form is shown: the same payment posted twice (a double click) counts once.
    submission = forms.RegexField(r"^[0-9a-f]{32}$", required=False, widget=forms.HiddenInput)

    def __init__(self, *args, may_refund: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not may_refund:  # giving money back is for those who answer for the till
            self.fields["kind"].choices = [c for c in self.KINDS if c[0] != "refund"]

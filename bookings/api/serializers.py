"""What the booking API reads and returns. Times are shown in the location's time zone with
their UTC offset (`zoned`), and read only with an offset."""

from datetime import date, datetime, timedelta

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.api.serializers import CustomerSerializer
from accounts.models import Location, Organization
from accounts.tenancy import ScopedPrimaryKeyRelatedField
from bookings.models import (
    Booking,
    BookingEvent,
    OpeningHours,
    Service,
    ServiceVehiclePrice,
    VehicleType,
)
from config.api.fields import (
    ID_SCHEMA,
    AwareDateTimeField,
    CalendarDateField,
    RequestBody,
    StrictIdMixin,
    StrictIntegerField,
    TextField,
    WallClockTimeField,
)
from fleet.models import Car, Resource

MAX_DAYS_PER_REQUEST = 31


class ZonedSerializer(serializers.Serializer):
    """Renders every instant of an object in the time zone of its location."""

    def zone_of(self, instance):
        return instance.location.time_zone

    def to_representation(self, instance):
        with timezone.override(self.zone_of(instance)):
            return super().to_representation(instance)


class OrganizationSerializer(serializers.ModelSerializer):
    time_zone = serializers.CharField()
    contact_phone = serializers.CharField()
    cancellation_cutoff_minutes = serializers.SerializerMethodField(
        help_text="Customers may cancel or reschedule until this long before the start."
    )

    class Meta:
        model = Organization
        fields = [
            "slug",
            "name",
            "time_zone",
            "currency",
            "contact_email",
            "contact_phone",
            "cancellation_cutoff_minutes",
        ]

    def get_cancellation_cutoff_minutes(self, organization: Organization) -> int:
        return int(organization.cancellation_cutoff / timedelta(minutes=1))


class OpeningHoursSerializer(serializers.ModelSerializer):
    opens_at = WallClockTimeField()
    closes_at = WallClockTimeField(help_text="00:00 closes at midnight.")

    class Meta:
        model = OpeningHours
        fields = ["weekday", "opens_at", "closes_at"]


class LocationSerializer(serializers.ModelSerializer):
    time_zone = serializers.CharField()
    phone = serializers.CharField()
    opening_hours = OpeningHoursSerializer(
        many=True, help_text="Wall-clock; 00:00 closes at midnight."
    )

    class Meta:
        model = Location
        fields = [
            "id",
            "name",
            "slug",
            "street_address",
            "postal_code",
            "city",
            "country",
            "time_zone",
            "phone",
            "opening_hours",
        ]


class VehiclePriceSerializer(serializers.ModelSerializer):
    class Meta:
        model = ServiceVehiclePrice
        fields = ["vehicle_type", "price"]


class ServingResourceSerializer(serializers.ModelSerializer):
    """Who or what performs a service; its id is the `resource` of a booking ("choose your
    barber")."""

    location_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = Resource
        fields = ["id", "name", "kind", "location_id"]


class ServiceSerializer(serializers.ModelSerializer):
    currency = serializers.CharField(source="organization.currency")
    vehicle_prices = VehiclePriceSerializer(many=True)
    location_ids = serializers.SerializerMethodField(help_text="Where the service is offered.")
    resources = ServingResourceSerializer(
        many=True, help_text="The active resources that serve it; book one by its id."
    )

    class Meta:
        model = Service
        fields = [
            "id",
            "name",
            "description",
            "kind",
            "duration_minutes",
            "price",
            "currency",
            "vehicle_prices",
            "location_ids",
            "resources",
        ]

    def get_location_ids(self, service: Service) -> list[int]:
        return sorted({resource.location_id for resource in service.resources.all()})


class DateRangeQuerySerializer(serializers.Serializer):
    date_from = CalendarDateField(help_text="First local day.")
    date_to = CalendarDateField(help_text=f"Last local day, at most {MAX_DAYS_PER_REQUEST} on.")

    def validate(self, attrs: dict) -> dict:
        if attrs["date_to"] < attrs["date_from"]:
            raise serializers.ValidationError({"date_to": "Must not be before date_from."})
        if (attrs["date_to"] - attrs["date_from"]).days >= MAX_DAYS_PER_REQUEST:
            raise serializers.ValidationError(
                {"date_to": f"Ask for at most {MAX_DAYS_PER_REQUEST} days at a time."}
            )
        return attrs


@extend_schema_field(ID_SCHEMA)
class ReferenceIdField(StrictIdMixin, serializers.IntegerField):
    """The id of a location or resource that the view finds in the organization's reference
    data (bookings.reference_cache) rather than with a query; `missing` is its 400."""

    default_error_messages = {
        "does_not_exist": serializers.PrimaryKeyRelatedField.default_error_messages[
            "does_not_exist"
        ]
    }

    def missing(self, pk: int) -> serializers.ValidationError:
        return serializers.ValidationError(
            {self.field_name: [self.error_messages["does_not_exist"].format(pk_value=pk)]},
            code="does_not_exist",
        )


class ServiceAvailabilityQuerySerializer(DateRangeQuerySerializer):
    location = ReferenceIdField()
    resource = ReferenceIdField(required=False, help_text="Only this resource (a chosen barber).")


class SlotSerializer(serializers.Serializer):
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    resource_ids = serializers.ListField(
        child=serializers.IntegerField(), help_text="Free for this slot, best first."
    )


class ServiceAvailabilitySerializer(serializers.Serializer):
    """The answer's shape, for the schema. The body itself is written by `availability_body`:
    a week holds hundreds of slots, and serializing each through DRF's fields took a third of
    a cached read (tests/api pins that both write the same JSON)."""

    service = serializers.IntegerField()
    location = serializers.IntegerField()
    time_zone = serializers.CharField()
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    slots = SlotSerializer(many=True)


def availability_body(
    *, service: int, location: Location, date_from: date, date_to: date, slots: list
) -> dict:
    """What ServiceAvailabilitySerializer writes, on the location's wall clock, written directly."""
    zone = location.time_zone
    return {
        "service": service,
        "location": location.pk,
        "time_zone": str(zone),
        "date_from": date_from.isoformat(),
        "date_to": date_to.isoformat(),
        "slots": [
            {
                "starts_at": _instant(slot.starts_at, zone),
                "ends_at": _instant(slot.ends_at, zone),
                "resource_ids": list(slot.resource_ids),
            }
            for slot in slots
        ],
    }


def _instant(value: datetime, zone) -> str:
    """DRF's ISO 8601 form of an aware datetime in `zone` (UTC as Z)."""
    text = value.astimezone(zone).isoformat()
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


class LocationSummarySerializer(serializers.ModelSerializer):
    time_zone = serializers.CharField()

    class Meta:
        model = Location
        fields = ["id", "name", "time_zone"]


class ServiceSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Service
        fields = ["id", "name", "kind"]


class ResourceSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Resource
        fields = ["id", "name", "kind"]


class BookingSerializer(ZonedSerializer, serializers.ModelSerializer):
    organization = serializers.SlugField(source="organization.slug")
    location = LocationSummarySerializer()
    service = ServiceSummarySerializer()
    resource = ResourceSummarySerializer()

    class Meta:
        model = Booking
        fields = [
            "code",
            "status",
            "payment_status",
            "organization",
            "location",
            "service",
            "resource",
            "starts_at",
            "ends_at",
            "vehicle_type",
            "total_price",
            "currency",
            "version",
            "notes",
            "cancellation_reason",
            "created_at",
            "updated_at",
        ]


class QuoteSerializer(serializers.Serializer):
    unit_price = serializers.DecimalField(max_digits=10, decimal_places=2)
    units = serializers.IntegerField(help_text="1 for an appointment; days for a rental.")
    total = serializers.DecimalField(max_digits=10, decimal_places=2)
    currency = serializers.CharField()


class BookingCreatedSerializer(BookingSerializer):
    quote = QuoteSerializer(help_text="How total_price was reached.")

    class Meta(BookingSerializer.Meta):
        fields = [*BookingSerializer.Meta.fields, "quote"]


class BookingCreateSerializer(RequestBody):
    service = ScopedPrimaryKeyRelatedField(Service, filters={"is_active": True})
    location = ScopedPrimaryKeyRelatedField(Location)
    starts_at = AwareDateTimeField()
    ends_at = AwareDateTimeField(
        required=False, help_text="Rentals only: the return; an appointment ends by its duration."
    )
    resource = ScopedPrimaryKeyRelatedField(
        Resource, required=False, help_text="A chosen bay or barber; any free one if left out."
    )
    car = ScopedPrimaryKeyRelatedField(Car, required=False, help_text="Rentals: the car.")
    vehicle_type = serializers.ChoiceField(VehicleType.choices, required=False, allow_blank=True)
    notes = TextField(required=False, allow_blank=True, max_length=2000)

    def validate(self, attrs: dict) -> dict:
        car = attrs.pop("car", None)
        if car is not None:
            if attrs.get("resource") is not None:
                raise serializers.ValidationError({"car": "Give a car or a resource, not both."})
            attrs["resource"] = car.resource
        return attrs


class VersionSerializer(RequestBody):
    version = StrictIntegerField(
        min_value=1, help_text="The booking's version as last read; a newer one answers 409."
    )


class CancelSerializer(VersionSerializer):
    reason = TextField(required=False, allow_blank=True, max_length=500)


class RescheduleSerializer(VersionSerializer):
    starts_at = AwareDateTimeField()
    ends_at = AwareDateTimeField(required=False, help_text="Rentals only.")


class ReviewCreateSerializer(RequestBody):
    rating = StrictIntegerField(min_value=1, max_value=5)
    comment = TextField(required=False, allow_blank=True, max_length=2000)


class ReviewCreatedSerializer(serializers.Serializer):
    rating = serializers.IntegerField()
    comment = serializers.CharField()
    status = serializers.CharField(help_text="Reviews count once the business approves them.")


class BookingEventSerializer(serializers.ModelSerializer):
    actor = serializers.EmailField(source="actor.email", allow_null=True, default=None)
    changes = serializers.DictField()

    class Meta:
        model = BookingEvent
        fields = ["kind", "from_status", "to_status", "actor", "changes", "created_at"]


class StaffBookingSerializer(BookingSerializer):
    customer = CustomerSerializer()

    class Meta(BookingSerializer.Meta):
        fields = [*BookingSerializer.Meta.fields, "customer", "source"]


class StaffBookingDetailSerializer(StaffBookingSerializer):
    events = BookingEventSerializer(many=True, help_text="The timeline, oldest first.")

    class Meta(StaffBookingSerializer.Meta):
        fields = [*StaffBookingSerializer.Meta.fields, "events"]


class ScheduleQuerySerializer(serializers.Serializer):
    date = CalendarDateField(help_text="First local day.")
    days = StrictIntegerField(min_value=1, max_value=7, default=1, help_text="1 to 7.")
    location = ScopedPrimaryKeyRelatedField(Location, required=False)
    resource = ScopedPrimaryKeyRelatedField(Resource, required=False)

    def validate(self, attrs: dict) -> dict:
        if ("location" in attrs) == ("resource" in attrs):
            raise serializers.ValidationError("Give either a location or a resource.")
        return attrs

"""The fields every API endpoint and page form share: the calendar anything can be booked in,
and instants that must carry their UTC offset."""

import re
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from django import forms
from django.http import QueryDict
from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

# The calendar the platform speaks about, on pages and in the API alike. Far-off dates would
# only overflow date arithmetic or meet the local mean time offsets time zones had before
# standard time (+01:39:49 in Helsinki).
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)
OUT_OF_RANGE = f"Must be between {FIRST_DAY} and {LAST_DAY}."
# The same years as the schema states them, so a client's validator refuses what we refuse.
DATE_SCHEMA = {"type": "string", "format": "date", "pattern": r"^20\d{2}-\d{2}-\d{2}$"}
_INSTANT = r"20\d{2}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})"
INSTANT_SCHEMA = {
    "type": "string",
    "format": "date-time",
    "pattern": f"^{_INSTANT}$",
    "example": "2030-01-07T09:00:00+02:00",
}


def in_platform_years(instant: datetime) -> bool:
    """Whether the instant's date, as written (in its own offset), is in the platform's years."""
    return FIRST_DAY <= instant.date() <= LAST_DAY


def wall_clock_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The instant a wall clock in `zone` shows `at` on `day`; ValueError if it never does
    (the hour skipped when clocks go forward) or the day is outside the platform's years."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(OUT_OF_RANGE)
    instant = datetime.combine(day, at, tzinfo=zone)
    if instant.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != datetime.combine(day, at):
        raise ValueError(f"{at:%H:%M} does not exist on {day:%-d %B %Y}: the clocks go forward.")
    return instant


@extend_schema_field(DATE_SCHEMA)
class CalendarDateField(serializers.DateField):
    default_error_messages = {"out_of_range": OUT_OF_RANGE}

    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        if not FIRST_DAY <= day <= LAST_DAY:
            self.fail("out_of_range")
        return day


@extend_schema_field(INSTANT_SCHEMA)
class AwareDateTimeField(serializers.DateTimeField):
    """An instant with its UTC offset; a bare wall-clock time would be ambiguous."""

    default_error_messages = {
        "naive": "Give the UTC offset, e.g. 2030-01-07T09:00:00+02:00.",
        "out_of_range": OUT_OF_RANGE,
    }

    def enforce_timezone(self, value):
        if timezone.is_naive(value):
            self.fail("naive")
        if not in_platform_years(value):
            self.fail("out_of_range")
        return super().enforce_timezone(value)


# No `format` here: an empty value (no filter) is not a date-time.
@extend_schema_field(
    {"type": "string", "pattern": f"^({_INSTANT})?$", "example": INSTANT_SCHEMA["example"]}
)
class AwareDateTimeFilter(filters.IsoDateTimeFilter):
    """A query parameter naming an instant, or empty for none: see AwareDateTimeField (the
    filter's form checks the years)."""


class RequestBody(serializers.Serializer):
    """Every request body the API reads: the fields it names and no others. An unknown field is a
    400 naming it, not silently dropped: a misspelt `note` must not look accepted."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: ["Not a field of this request."] for name in unknown}
                )
        return super().to_internal_value(data)


class TextField(serializers.CharField):
    """Every free text the API reads: the schema says `string`, so 0, 1.5 or true are a 400,
    not the text "0" (DRF's CharField would turn numbers into text)."""

    default_error_messages = {"invalid": "Text is required, in quotes."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field({"type": "string", "pattern": r"^\d{2}:\d{2}$", "example": "09:00"})
class WallClockTimeField(serializers.TimeField):
    """A time of day on the location's wall clock, "09:00" (OpenAPI's `time` format would
    demand a UTC offset, which opening hours do not have)."""

    def __init__(self, **kwargs):
        super().__init__(format="%H:%M", **kwargs)


# Ids are bigint primary keys: a whole number from 1 to 2**63 - 1, given as a JSON integer in a
# body, or as its plain digits in a query string or form. Nothing is coerced: 1.5, true, " 1 ",
# "1.0" or "01" name no row and are refused (Python's int() would read several of them as 1).
MAX_ID = 2**63 - 1
ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
INVALID_ID = "An id is a whole number from 1 to 9223372036854775807, e.g. 12."
_INTEGER_TEXT = re.compile(r"\A-?(0|[1-9][0-9]{0,18})\Z")


def parse_integer(value: object, *, from_text: bool) -> int | None:
    """The whole number `value` is, or None: a JSON integer in a body (not 1.0, true or "1"),
    its plain digits in a query string or form (not "1.0", " 1 " or "01"). `from_text`: it
    came from a query string or a form, where every value is text."""
    if from_text:
        return int(value) if isinstance(value, str) and _INTEGER_TEXT.match(value) else None
    return value if type(value) is int else None


def parse_id(value: object, *, from_text: bool) -> int | None:
    """The id `value` names, or None: see parse_integer; from 1 to MAX_ID."""
    number = parse_integer(value, from_text=from_text)
    return number if number is not None and 1 <= number <= MAX_ID else None


def _from_text(field: serializers.Field) -> bool:
    return isinstance(getattr(field.root, "initial_data", None), QueryDict)


class StrictIntegerField(serializers.IntegerField):
    """Every whole number the API reads: the schema says `integer`, so 1.0, true, "1" (in a
    JSON body) and "1.0" (in a query string) are a 400, not 1 (see parse_integer)."""

    default_error_messages = {"invalid": "A whole number is required, e.g. 3."}

    def to_internal_value(self, data):
        number = parse_integer(data, from_text=_from_text(self))
        if number is None:
            self.fail("invalid")
        return super().to_internal_value(number)


class StrictIdMixin:
    """For a serializer field of an id (a related row's primary key): see parse_id."""

    def to_internal_value(self, data):
        number = parse_id(data, from_text=_from_text(self))
        if number is None:
            raise serializers.ValidationError(INVALID_ID, code="invalid_id")
        return super().to_internal_value(number)


class WholeNumberFormField(forms.Field):
    """A form's (and django-filter's) whole number: see parse_integer."""

    parse = staticmethod(parse_integer)
    message, code = "A whole number is required, e.g. 3.", "invalid"

    def to_python(self, value):
        if value is None:  # not given; given but empty ("?seats_min=") is no number
            return None
        number = self.parse(value, from_text=True)
        if number is None:
            raise forms.ValidationError(self.message, code=self.code)
        return number


class IdFormField(WholeNumberFormField):
    """A form's (and django-filter's) id: see parse_id."""

    parse = staticmethod(parse_id)
    message, code = INVALID_ID, "invalid_id"


@extend_schema_field({"type": "integer"})
class WholeNumberFilter(filters.NumberFilter):
    """A query parameter that is a whole number: see parse_integer."""

    field_class = WholeNumberFormField


@extend_schema_field(ID_SCHEMA)
class IdFilter(filters.Filter):
    """A query parameter naming a row by its id: see parse_id."""

    field_class = IdFormField

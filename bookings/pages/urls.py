"""The booking pages of one organization, under /<organization_slug>/ (the tenant middleware
enters its scope). Customers need no account: a booking is managed through its signed link."""

from datetime import date

from django.urls import path, register_converter

from bookings.pages import cars, journey, manage
from config.api.fields import FIRST_DAY, LAST_DAY


class IsoDateConverter:
    """A day as 2029-12-07. An impossible one (2029-02-30), or one outside the years anything
    can be booked in, does not match, so it is a 404."""

    regex = r"\d{4}-\d{2}-\d{2}"

    def to_python(self, value: str) -> date:
        day = date.fromisoformat(value)
        if not FIRST_DAY <= day <= LAST_DAY:
            raise ValueError(f"{value} is out of range")
        return day

    def to_url(self, value: date) -> str:
        return value.isoformat()


register_converter(IsoDateConverter, "isodate")

app_name = "pages"
urlpatterns = [
    path("", journey.organization_home, name="home"),
    path("services/<int:service_id>/", journey.service_detail, name="service"),
    path(
        "services/<int:service_id>/<slug:location_slug>/",
        journey.service_calendar,
        name="service-calendar",
    ),
    path(
        "services/<int:service_id>/<slug:location_slug>/<isodate:day>/",
        journey.service_day,
        name="service-day",
    ),
    path("book/<int:service_id>/<slug:location_slug>/", journey.book, name="book"),
    path("bookings/<str:token>/", manage.booking_confirmed, name="booking-confirmed"),
    path("manage/", manage.booking_lookup, name="booking-lookup"),
    path("manage/<str:token>/", manage.booking_manage, name="booking-manage"),
    path(
        "manage/<str:token>/reschedule/",
        manage.booking_reschedule_page,
        name="booking-reschedule",
    ),
    path("manage/<str:token>/booking.ics", manage.booking_calendar_file, name="booking-calendar"),
    path("cars/", cars.car_search_page, name="car-search"),
    path("cars/<int:car_id>/", cars.car_page, name="car"),
]

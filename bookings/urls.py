"""The booking pages of one organization, under /<organization_slug>/ (the tenant middleware
enters its scope). Customers need no account: a booking is managed through its signed link."""

from datetime import date

from django.urls import path, register_converter

from bookings import views
from bookings.forms import FIRST_DAY, LAST_DAY
from fleet import views as fleet_views


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
    path("", views.organization_home, name="home"),
    path("services/<int:service_id>/", views.service_detail, name="service"),
    path(
        "services/<int:service_id>/<slug:location_slug>/",
        views.service_calendar,
        name="service-calendar",
    ),
    path(
        "services/<int:service_id>/<slug:location_slug>/<isodate:day>/",
        views.service_day,
        name="service-day",
    ),
    path("book/<int:service_id>/<slug:location_slug>/", views.book, name="book"),
    path("bookings/<str:token>/", views.booking_confirmed, name="booking-confirmed"),
    path("manage/", views.booking_lookup, name="booking-lookup"),
    path("manage/<str:token>/", views.booking_manage, name="booking-manage"),
    path(
        "manage/<str:token>/reschedule/",
        views.booking_reschedule_page,
        name="booking-reschedule",
    ),
    path("manage/<str:token>/booking.ics", views.booking_calendar_file, name="booking-calendar"),
    path("cars/", fleet_views.car_search, name="car-search"),
    path("cars/<int:car_id>/", fleet_views.car_detail, name="car"),
]

"""The resource calendar: a location's day or week, a column per resource; rentals as a
timeline over days.

`?location=<id>&date=<YYYY-MM-DD>&view=day|week|timeline`. Locations are those the user may
view (accounts.roles); another tenant's location, or one outside the user's locations, is a 404
exactly like a missing one; a malformed query string is a 400 page saying what was wrong. Every
time is shown on the location's wall clock.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.models import Location
from accounts.roles import permitted
from bookings.models import BookingStatus, PaymentStatus
from bookings.selectors.calendar import calendar_day, calendar_week, rental_timeline
from config.api.fields import FIRST_DAY, LAST_DAY

VIEW_LOCATION = "accounts.view_location"
VIEWS = {"day": "Day", "week": "Week", "timeline": "Rentals"}
TIMELINE_DAYS = 14
BAD_REQUEST = 400


class BadQuery(ValueError):
    """A query string the page cannot answer; the message says which part and why."""


@dataclass(frozen=True)
class Query:
    location: Location
    day: date
    view: str


def _parse(request: HttpRequest, locations: list[Location]) -> Query:
    raw_location = request.GET.get("location", "")
    if raw_location:
        try:
            location_id = int(raw_location)
        except ValueError:
            raise BadQuery(f"“{raw_location}” is not a location id.") from None
        location = next((loc for loc in locations if loc.pk == location_id), None)
        if location is None:
            raise Http404("No location with this id.")
    else:
        location = locations[0]

    raw_date = request.GET.get("date", "")
    if raw_date:
        try:
            day = date.fromisoformat(raw_date)
        except ValueError:
            raise BadQuery(f"“{raw_date}” is not a date; use YYYY-MM-DD.") from None
        if len(raw_date) != 10 or not FIRST_DAY <= day <= LAST_DAY - timedelta(days=31):
            raise BadQuery(f"The date must be YYYY-MM-DD between {FIRST_DAY} and {LAST_DAY}.")
    else:
        day = timezone.now().astimezone(location.time_zone).date()

    view = request.GET.get("view") or "day"
    if view not in VIEWS:
        raise BadQuery(f"“{view}” is not a view; choose day, week or timeline.")
    return Query(location=location, day=day, view=view)


def _url(location: Location, day: date, view: str) -> str:
    query = urlencode({"location": location.pk, "date": day.isoformat(), "view": view})
    return f"{reverse('admin:workspace_calendar')}?{query}"


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _navigation(query: Query, today: date) -> dict:
    step = timedelta(days=1 if query.view == "day" else 7)
    return {
        "previous_url": _url(query.location, query.day - step, query.view),
        "next_url": _url(query.location, query.day + step, query.view),
        "today_url": _url(query.location, today, query.view),
        "view_urls": [
            (name, label, _url(query.location, query.day, name), name == query.view)
            for name, label in VIEWS.items()
        ],
    }


def _legend() -> dict:
    return {
        "statuses": [
            (status, label)
            for status, label in BookingStatus.choices
            if status not in (BookingStatus.CANCELLED, BookingStatus.NO_SHOW)
        ],
        "payments": PaymentStatus.choices,
    }


@require_GET
def calendar(request: HttpRequest) -> HttpResponse:
    user = request.user
    locations = list(
        permitted(user, VIEW_LOCATION, Location.objects.all())
        .select_related("organization")
        .order_by("organization__name", "name", "pk")
    )
    context = {**admin.site.each_context(request), "title": "Calendar", "locations": locations}
    if not locations:
        return render(request, "admin/workspace/calendar.html", context)
    try:
        query = _parse(request, locations)
    except BadQuery as error:
        context["error"] = str(error)
        context["reset_url"] = reverse("admin:workspace_calendar")
        return render(request, "admin/workspace/calendar.html", context, status=BAD_REQUEST)

    location = query.location
    now = timezone.now()
    today = now.astimezone(location.time_zone).date()
    context |= {
        "location": location,
        "day": query.day,
        "today": today,
        "view": query.view,
        "show_organization": len({loc.organization_id for loc in locations}) > 1,
        **_navigation(query, today),
        **_legend(),
    }
    if query.view == "day":
        context["calendar"] = calendar_day(user=user, location=location, day=query.day)
        context["now_top"] = _now_top(context["calendar"], now)
    elif query.view == "week":
        context["week"] = calendar_week(user=user, location=location, first_day=_monday(query.day))
    else:
        context["timeline"] = rental_timeline(
            user=user,
            location=location,
            first_day=_monday(query.day),
            day=query.day,
            days=TIMELINE_DAYS,
        )
    # Every time on the page is the location's wall clock, whatever the user's own zone.
    with timezone.override(location.time_zone):
        return render(request, "admin/workspace/calendar.html", context)


def _now_top(day, now: datetime) -> float | None:
    """Where "now" falls in the day's window (percent), if it does."""
    if not day.starts_at <= now < day.ends_at:
        return None
    return round((now - day.starts_at) / (day.ends_at - day.starts_at) * 100, 4)

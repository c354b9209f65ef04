"""Every non-trivial read of the engine: availability, the catalogue, access to bookings."""

from bookings.selectors.access import (
    access_booking,
    account_bookings,
    account_organization_ids,
    booking_by_code_and_email,
)
from bookings.selectors.availability import (
    Interval,
    OccupiedTimes,
    OpeningCalendar,
    Slot,
    bookable_resources,
    bookings_during_closure,
    car_free_periods,
    nearest_slots,
    occupancies_in_window,
    period_refusal,
    service_slots,
)
from bookings.selectors.calendar import calendar_day, calendar_week, rental_timeline
from bookings.selectors.catalogue import (
    bookable_cars,
    bookable_locations,
    car_reviews_published,
    car_search,
    cars_free_between,
    offered_services,
    service_locations,
    staff_serving,
    weekly_hours,
)

__all__ = [
    "Interval",
    "OccupiedTimes",
    "OpeningCalendar",
    "Slot",
    "access_booking",
    "account_bookings",
    "account_organization_ids",
    "bookable_cars",
    "bookable_locations",
    "bookable_resources",
    "booking_by_code_and_email",
    "bookings_during_closure",
    "calendar_day",
    "calendar_week",
    "car_free_periods",
    "car_reviews_published",
    "car_search",
    "cars_free_between",
    "nearest_slots",
    "occupancies_in_window",
    "offered_services",
    "period_refusal",
    "rental_timeline",
    "service_locations",
    "service_slots",
    "staff_serving",
    "weekly_hours",
]

"""Every write of the engine, one module per concern: creation, lifecycle, reschedule,
maintenance (blocked time), payments, reviews; occupancy and timeline are the steps they share."""

from bookings.services.creation import (
    account_booking_create,
    booking_create,
    desk_booking_create,
    guest_booking_create,
)
from bookings.services.lifecycle import (
    STAFF_MOVES,
    booking_cancel,
    booking_complete,
    booking_confirm,
    booking_mark_no_show,
    booking_start,
)
from bookings.services.maintenance import time_block_create
from bookings.services.payments import payment_record, payment_refund, payment_status_of
from bookings.services.reschedule import booking_reschedule
from bookings.services.reviews import car_rating_refresh, car_review_create, car_review_moderate

__all__ = [
    "STAFF_MOVES",
    "account_booking_create",
    "booking_cancel",
    "booking_complete",
    "booking_confirm",
    "booking_create",
    "booking_mark_no_show",
    "booking_reschedule",
    "booking_start",
    "car_rating_refresh",
    "car_review_create",
    "car_review_moderate",
    "desk_booking_create",
    "guest_booking_create",
    "payment_record",
    "payment_refund",
    "payment_status_of",
    "time_block_create",
]

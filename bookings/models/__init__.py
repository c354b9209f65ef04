"""The engine's data: what is offered (catalogue), bookings and their timeline, the occupied
time that the no-double-booking constraint guards, car reviews and the email outbox."""

from bookings.models.availability import DayGeneration, ReferenceGeneration
from bookings.models.booking import (
    Booking,
    BookingEvent,
    BookingSource,
    BookingStatus,
    OccupancyRange,
    PaymentStatus,
)
from bookings.models.catalogue import (
    Closure,
    OpeningHours,
    Service,
    ServiceKind,
    ServiceVehiclePrice,
    VehicleType,
    Weekday,
)
from bookings.models.occupancy import BlockKind, Maintenance, Occupancy
from bookings.models.outbox import EmailKind, EmailStatus, OutboxEmail
from bookings.models.payments import Payment, PaymentKind, PaymentMethod
from bookings.models.periods import BookingPeriod, OccupancyPeriod
from bookings.models.reviews import CarReview, ReviewStatus

__all__ = [
    "BlockKind",
    "Booking",
    "BookingEvent",
    "BookingPeriod",
    "BookingSource",
    "BookingStatus",
    "CarReview",
    "Closure",
    "DayGeneration",
    "EmailKind",
    "EmailStatus",
    "Maintenance",
    "Occupancy",
    "OccupancyPeriod",
    "OccupancyRange",
    "OpeningHours",
    "OutboxEmail",
    "Payment",
    "PaymentKind",
    "PaymentMethod",
    "PaymentStatus",
    "ReferenceGeneration",
    "ReviewStatus",
    "Service",
    "ServiceKind",
    "ServiceVehiclePrice",
    "VehicleType",
    "Weekday",
]

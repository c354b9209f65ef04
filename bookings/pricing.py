"""Every price the platform shows or charges comes from quote()."""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from accounts.models import Location
from bookings.models import Service, ServiceKind, VehicleType
from fleet.models import Resource

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Quote:
    """A price in the organization's currency: unit price times units (days for a rental)."""

    unit_price: Decimal
    units: int
    currency: str

    @property
    def total(self) -> Decimal:
        return (self.unit_price * self.units).quantize(CENT)


def rental_days(*, location: Location, starts_at: datetime, ends_at: datetime) -> int:
    """Started 24-hour days by the location's wall clock, so a DST night is not an extra day."""
    tz = location.time_zone
    wall_clock = ends_at.astimezone(tz).replace(tzinfo=None) - starts_at.astimezone(tz).replace(
        tzinfo=None
    )
    return max(1, math.ceil(wall_clock / timedelta(days=1)))


def quote(
    *,
    service: Service,
    location: Location,
    starts_at: datetime,
    ends_at: datetime,
    resource: Resource | None = None,
    vehicle_type: str = "",
) -> Quote:
    """The price of booking `service` for this period (on this car, for this vehicle type)."""
    currency = service.organization.currency
    if service.kind == ServiceKind.RENTAL:
        if resource is None or not hasattr(resource, "car"):
            raise ValueError("A rental is priced from a car's daily rate.")
        days = rental_days(location=location, starts_at=starts_at, ends_at=ends_at)
        return Quote(unit_price=resource.car.daily_rate, units=days, currency=currency)
    unit_price = service.price
    if vehicle_type:
        for vehicle_price in service.vehicle_prices.all():
            if vehicle_price.vehicle_type == vehicle_type:
                unit_price = vehicle_price.price
    return Quote(unit_price=unit_price, units=1, currency=currency)


@dataclass(frozen=True)
class VehiclePrice:
    """What one vehicle type pays for a service: its own price, or the base price."""

    vehicle_type: str
    label: str
    price: Decimal


def vehicle_prices(service: Service) -> list[VehiclePrice]:
    """Every vehicle type's price for a service priced by vehicle (empty for any other).

    A type without a price of its own pays the base price, as quote() charges it, so a list
    that showed only the rows would hide it (the sedan at the base price) and its "from" price
    would be wrong. Reads the prefetched `vehicle_prices`.
    """
    own = {row.vehicle_type: row.price for row in service.vehicle_prices.all()}
    if not own:
        return []
    return [
        VehiclePrice(vehicle_type, label, own.get(vehicle_type, service.price))
        for vehicle_type, label in VehicleType.choices
    ]


def lowest_price(service: Service) -> Decimal:
    """The least any customer pays for an appointment service: its "from" price."""
    return min((row.price for row in vehicle_prices(service)), default=service.price)

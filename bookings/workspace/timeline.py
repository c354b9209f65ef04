"""A booking's timeline as staff read it: "Moved from Tue 10:00 to Wed 14:00 by Anna", on the
location's wall clock, instead of the raw changes each BookingEvent stores."""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bookings.models import Booking, BookingEvent, BookingSource

WHEN = "%a %d %b %H:%M"

VERBS = {
    "confirmed": "Confirmed",
    "started": "Arrived (started)",
    "completed": "Completed",
    "no_show": "Marked as no-show",
    "cancelled": "Cancelled",
}


@dataclass(frozen=True)
class TimelineLine:
    at: datetime
    text: str


def _local(value: str | None, zone: ZoneInfo) -> str:
    if not value:
        return "?"
    return datetime.fromisoformat(value).astimezone(zone).strftime(WHEN)


def _by(event: BookingEvent, source: str) -> str:
    """Who did it: a staff member by name; without one, the customer (through the pages or
    the app), since only customers act without an account of the business."""
    if event.actor is not None:
        return f"by {event.actor.full_name or event.actor.email}"
    if event.kind == "created":
        return {BookingSource.CUSTOMER: "online", BookingSource.API: "in the app"}.get(source, "")
    return "by the customer" if event.kind in ("cancelled", "rescheduled") else ""


def describe(event: BookingEvent, zone: ZoneInfo, source: str = "") -> str:
    """One event in words, times on the location's wall clock."""
    changes, by = event.changes or {}, _by(event, source)
    if event.kind == "created" and "starts_at" not in changes:
        text = "Booked"  # seeded history records no details
    elif event.kind == "created":
        text = (
            f"Booked for {_local(changes.get('starts_at'), zone)} on {changes.get('resource')}"
            f" ({changes.get('total_price')})"
        )
        if reason := changes.get("outside_hours"):
            text += f", outside opening hours: {reason}"
    elif event.kind == "rescheduled":
        before, after = changes.get("from", {}), changes.get("to", {})
        text = f"Moved from {_local(before.get('starts_at'), zone)}"
        if before.get("resource") != after.get("resource"):
            text += f" on {before.get('resource')}"
        text += f" to {_local(after.get('starts_at'), zone)}"
        if before.get("resource") != after.get("resource"):
            text += f" on {after.get('resource')}"
    elif event.kind in ("payment", "refund"):
        noun = "Refund" if event.kind == "refund" else "Payment"
        if changes.get("is_deposit"):
            noun = "Deposit"
        text = f"{noun} of {changes.get('amount')} {changes.get('currency', '')}".rstrip()
        if method := changes.get("method"):
            text += f" ({method})"
    else:
        text = VERBS.get(event.kind, event.kind.replace("_", " ").capitalize())
        if reason := changes.get("cancellation_reason"):
            text += f": {reason}"
    return f"{text} {by}".strip() + "."


def timeline(booking: Booking) -> list[TimelineLine]:
    """The booking's events, oldest first, in words."""
    zone = booking.location.time_zone
    events = booking.events.select_related("actor").order_by("created_at", "pk")
    return [
        TimelineLine(at=event.created_at, text=describe(event, zone, booking.source))
        for event in events
    ]

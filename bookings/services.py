"""Every write on bookings: create, the lifecycle moves, reschedule. Each records a BookingEvent.

Double booking is refused by PostgreSQL (Occupancy's exclusion constraint), not by a check here:
the services try the insert in a savepoint and turn the constraint violation into SlotUnavailable,
moving on to the next free resource when the customer asked for any.
"""

import secrets
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from psycopg.errors import ExclusionViolation, UniqueViolation

from accounts.models import Customer, Location, Organization, User
from accounts.services import customer_for_guest
from bookings.errors import (
    CancellationTooLate,
    InvalidBookingRequest,
    InvalidTransition,
    SlotUnavailable,
    StaleVersion,
)
from bookings.models import (
    RELEASING_STATUSES,
    TRANSITIONS,
    Booking,
    BookingEvent,
    BookingSource,
    BookingStatus,
    EmailKind,
    Occupancy,
    Service,
    ServiceKind,
    VehicleType,
)
from bookings.notifications import email_queue
from bookings.pricing import quote
from bookings.selectors import OpeningCalendar, bookable_resources, service_slots
from fleet.models import Maintenance, Resource

# Letters and digits that cannot be mistaken for each other when read aloud or copied by hand.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8


def new_confirmation_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _is_overlap(error: IntegrityError) -> bool:
    return isinstance(error.__cause__, ExclusionViolation)


def _occupy(*, resource: Resource, starts_at: datetime, ends_at: datetime, **owner) -> bool:
    """Claim the resource's time in a savepoint; False if PostgreSQL says it is taken."""
    try:
        with transaction.atomic():
            Occupancy.objects.create(
                organization_id=resource.organization_id,
                resource=resource,
                starts_at=starts_at,
                ends_at=ends_at,
                **owner,
            )
    except IntegrityError as error:
        if _is_overlap(error):
            return False
        raise
    return True


def _save_with_occupancy(booking: Booking) -> bool:
    """Insert a new booking and its occupancy together; False (nothing written) if it is taken.

    A clash of confirmation codes (1 in 10^12 per pair) is answered with a fresh code.
    """
    for _attempt in range(3):
        try:
            with transaction.atomic():
                booking.save(force_insert=True)
                occupied_from, occupied_to = _occupied_period(booking)
                if not _occupy(
                    resource=booking.resource,
                    starts_at=occupied_from,
                    ends_at=occupied_to,
                    booking=booking,
                ):
                    raise _Taken
            return True
        except _Taken:
            booking.pk = None
            return False
        except IntegrityError as error:
            cause = error.__cause__
            if not (
                isinstance(cause, UniqueViolation)
                and cause.diag.constraint_name.endswith("_code_key")
            ):
                raise
            booking.pk, booking.code = None, new_confirmation_code()
    raise RuntimeError("Could not draw a free confirmation code.")


class _Taken(Exception):
    """Rolls back the booking's savepoint when its occupancy is refused."""


def _occupied_period(booking: Booking) -> tuple[datetime, datetime]:
    """The resource is taken for the booking plus the service's buffers."""
    service = booking.service
    return (
        booking.starts_at - timedelta(minutes=service.buffer_before_minutes),
        booking.ends_at + timedelta(minutes=service.buffer_after_minutes),
    )


def _record(
    booking: Booking,
    *,
    kind: str,
    actor: User | None,
    from_status: str = "",
    to_status: str = "",
    changes: dict | None = None,
) -> BookingEvent:
    return BookingEvent.objects.create(
        organization_id=booking.organization_id,
        booking=booking,
        kind=kind,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        changes=changes or {},
    )


def _candidates(
    *,
    service: Service,
    location: Location,
    starts_at: datetime,
    ends_at: datetime,
    resource: Resource | None,
) -> list[Resource]:
    """The resources that may take this booking by every rule except the race for it."""
    if not service.is_active:
        raise InvalidBookingRequest(f"{service} is not bookable at the moment.")
    resources = bookable_resources(service=service, location=location, resource=resource)
    if not resources:
        raise InvalidBookingRequest(
            f"{service} is not offered at {location}" + (f" by {resource}." if resource else ".")
        )
    now = timezone.now()
    if starts_at < now + timedelta(minutes=service.minimum_notice_minutes):
        raise SlotUnavailable("This time is too soon to book.")
    if max(starts_at, ends_at) > now + timedelta(days=service.maximum_advance_days):
        raise SlotUnavailable("This time is too far ahead to book.")

    if service.kind == ServiceKind.APPOINTMENT:
        day = starts_at.astimezone(location.time_zone).date()
        slot = next(
            (
                s
                for s in service_slots(
                    service=service,
                    location=location,
                    date_from=day,
                    date_to=day,
                    resource=resource,
                    now=now,
                    use_cache=False,
                )
                if s.starts_at == starts_at
            ),
            None,
        )
        if slot is None:
            raise SlotUnavailable("This time is not available.")
        free = set(slot.resource_ids)
        return [r for r in resources if r.pk in free]

    calendar = OpeningCalendar(
        location,
        starts_at.astimezone(location.time_zone).date(),
        ends_at.astimezone(location.time_zone).date(),
    )
    if not (calendar.is_open_at(starts_at) and calendar.is_open_at(ends_at)):
        raise SlotUnavailable("Pick-up and return must be within opening hours.")
    return resources


@transaction.atomic
def booking_create(
    *,
    actor: User | None,
    source: str,
    service: Service,
    location: Location,
    customer: Customer,
    starts_at: datetime,
    ends_at: datetime | None = None,
    resource: Resource | None = None,
    vehicle_type: str = "",
    notes: str = "",
    submission_key: str = "",
) -> Booking:
    """Book a service: an appointment slot (ends_at follows from the duration) or a rental.

    Without `resource`, the first free resource that serves the service takes it; if another
    request wins the race for it, the next free one is tried before SlotUnavailable is raised.
    """
    if timezone.is_naive(starts_at) or (ends_at is not None and timezone.is_naive(ends_at)):
        raise InvalidBookingRequest("Times must carry a time zone.")
    if customer.organization_id != service.organization_id:
        raise InvalidBookingRequest("The customer belongs to another organization.")
    if vehicle_type and vehicle_type not in VehicleType.values:
        raise InvalidBookingRequest(
            f"Unknown vehicle type {vehicle_type!r}; choose one of "
            f"{', '.join(VehicleType.values)}.",
            field="vehicle_type",
        )
    if service.kind == ServiceKind.APPOINTMENT:
        ends_at = starts_at + timedelta(minutes=service.duration_minutes)
    elif ends_at is None or ends_at <= starts_at:
        raise InvalidBookingRequest("A rental needs a return time after its pick-up time.")

    for candidate in _candidates(
        service=service, location=location, starts_at=starts_at, ends_at=ends_at, resource=resource
    ):
        price = quote(
            service=service,
            location=location,
            starts_at=starts_at,
            ends_at=ends_at,
            resource=candidate,
            vehicle_type=vehicle_type,
        )
        booking = Booking(
            organization_id=service.organization_id,
            location=location,
            customer=customer,
            service=service,
            resource=candidate,
            starts_at=starts_at,
            ends_at=ends_at,
            vehicle_type=vehicle_type,
            total_price=price.total,
            currency=price.currency,
            code=new_confirmation_code(),
            source=source,
            created_by=actor,
            notes=notes,
            submission_key=submission_key,
        )
        if _save_with_occupancy(booking):
            _record(
                booking,
                kind="created",
                actor=actor,
                to_status=booking.status,
                changes={
                    "resource": candidate.name,
                    "starts_at": starts_at.isoformat(),
                    "ends_at": ends_at.isoformat(),
                    "total_price": str(price.total),
                },
            )
            email_queue(booking, kind=EmailKind.CONFIRMATION, event_key="created")
            return booking
        # Another request took this resource first; the next one may still be free.
    raise SlotUnavailable("This time was just taken. Please choose another.")


@transaction.atomic
def guest_booking_create(
    *, organization: Organization, full_name: str, email: str, phone: str = "", **booking
) -> Booking:
    """A booking from the booking pages, by a customer without an account.

    The customer profile is found by email or made, in the booking's transaction: if the slot
    is taken, the new profile is rolled back with everything else.
    """
    customer = customer_for_guest(
        organization=organization, full_name=full_name, email=email, phone=phone
    )
    return booking_create(actor=None, source=BookingSource.CUSTOMER, customer=customer, **booking)


def _locked_for_change(booking: Booking, expected_version: int) -> Booking:
    """Bump the version if nobody changed the booking since `expected_version`; else refuse."""
    updated = Booking.objects.filter(pk=booking.pk, version=expected_version).update(
        version=F("version") + 1, updated_at=timezone.now()
    )
    if not updated:
        raise StaleVersion("This booking was changed by someone else. Reload it and try again.")
    return Booking.objects.select_related("service", "organization").get(pk=booking.pk)


@transaction.atomic
def _transition(
    booking: Booking,
    *,
    to_status: str,
    actor: User | None,
    expected_version: int,
    kind: str,
    **changes,
) -> Booking:
    booking = _locked_for_change(booking, expected_version)
    if to_status not in TRANSITIONS[booking.status]:
        raise InvalidTransition(
            f"A {booking.get_status_display().lower()} booking cannot become "
            f"{BookingStatus(to_status).label.lower()}.",
            from_status=booking.status,
            to_status=to_status,
        )
    from_status = booking.status
    booking.status = to_status
    for field, value in changes.items():
        setattr(booking, field, value)
    booking.save(update_fields=["status", *changes])
    if to_status in RELEASING_STATUSES:
        Occupancy.objects.filter(booking=booking).delete()
    _record(
        booking,
        kind=kind,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        changes=changes,
    )
    return booking


def booking_confirm(*, actor: User | None, booking: Booking, expected_version: int) -> Booking:
    return _transition(
        booking,
        to_status=BookingStatus.CONFIRMED,
        actor=actor,
        expected_version=expected_version,
        kind="confirmed",
    )


def booking_start(*, actor: User | None, booking: Booking, expected_version: int) -> Booking:
    return _transition(
        booking,
        to_status=BookingStatus.IN_PROGRESS,
        actor=actor,
        expected_version=expected_version,
        kind="started",
    )


def booking_complete(*, actor: User | None, booking: Booking, expected_version: int) -> Booking:
    return _transition(
        booking,
        to_status=BookingStatus.COMPLETED,
        actor=actor,
        expected_version=expected_version,
        kind="completed",
    )


def booking_mark_no_show(*, actor: User | None, booking: Booking, expected_version: int) -> Booking:
    return _transition(
        booking,
        to_status=BookingStatus.NO_SHOW,
        actor=actor,
        expected_version=expected_version,
        kind="no_show",
    )


def customer_change_deadline(booking: Booking) -> datetime:
    """Until when the customer may cancel or reschedule: the organization's cut-off."""
    return booking.starts_at - booking.organization.cancellation_cutoff


def customer_may_change(booking: Booking) -> bool:
    return booking.status in (
        BookingStatus.PENDING,
        BookingStatus.CONFIRMED,
    ) and timezone.now() <= customer_change_deadline(booking)


def _in_words(duration: timedelta) -> str:
    """48 hours -> "2 days", 90 minutes -> "90 minutes": cut-offs as a customer reads them."""
    minutes = int(duration.total_seconds() // 60)
    for unit, size in (("day", 24 * 60), ("hour", 60), ("minute", 1)):
        if minutes >= size and minutes % size == 0:
            count = minutes // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{minutes} minutes"


def _check_cutoff(booking: Booking, *, by_staff: bool, what: str) -> None:
    if by_staff:
        return  # staff may change a booking at any time; the cut-off protects the business
    if timezone.now() > customer_change_deadline(booking):
        raise CancellationTooLate(
            f"Bookings can be {what} up to {_in_words(booking.organization.cancellation_cutoff)} "
            "before they start. Please contact the business."
        )


@transaction.atomic
def booking_cancel(
    *, actor: User | None, booking: Booking, expected_version: int, reason: str = "", by_staff: bool
) -> Booking:
    """Cancel and give the time back. Customers are held to the organization's cut-off."""
    _check_cutoff(booking, by_staff=by_staff, what="cancelled")
    booking = _transition(
        booking,
        to_status=BookingStatus.CANCELLED,
        actor=actor,
        expected_version=expected_version,
        kind="cancelled",
        cancellation_reason=reason,
    )
    email_queue(booking, kind=EmailKind.CANCELLATION, event_key="cancelled")
    return booking


@transaction.atomic
def booking_reschedule(
    *,
    actor: User | None,
    booking: Booking,
    expected_version: int,
    starts_at: datetime,
    ends_at: datetime | None = None,
    resource: Resource | None = None,
    by_staff: bool,
) -> Booking:
    """Move a booking to another period; the old one is released only if the new one is taken.

    The occupancy row is updated in place inside one transaction, so PostgreSQL checks the new
    period against every other booking and a refusal leaves the old period untouched.
    """
    _check_cutoff(booking, by_staff=by_staff, what="rescheduled")
    booking = _locked_for_change(booking, expected_version)
    if booking.status not in (BookingStatus.PENDING, BookingStatus.CONFIRMED):
        raise InvalidTransition(
            f"A {booking.get_status_display().lower()} booking cannot be rescheduled."
        )
    service = booking.service
    if service.kind == ServiceKind.APPOINTMENT:
        ends_at = starts_at + timedelta(minutes=service.duration_minutes)
    elif ends_at is None or ends_at <= starts_at:
        raise InvalidBookingRequest("A rental needs a return time after its pick-up time.")
    # The booking's own occupancy must not count against it while looking for the new slot.
    occupancy = Occupancy.objects.get(booking=booking)
    occupancy.delete()
    candidates = _candidates(
        service=service,
        location=booking.location,
        starts_at=starts_at,
        ends_at=ends_at,
        resource=resource or (booking.resource if service.kind == ServiceKind.RENTAL else None),
    )
    before = {
        "starts_at": booking.starts_at.isoformat(),
        "ends_at": booking.ends_at.isoformat(),
        "resource": booking.resource.name,
    }
    for candidate in candidates:
        booking.starts_at, booking.ends_at, booking.resource = starts_at, ends_at, candidate
        occupied_from, occupied_to = _occupied_period(booking)
        if _occupy(
            resource=candidate, starts_at=occupied_from, ends_at=occupied_to, booking=booking
        ):
            price = quote(
                service=service,
                location=booking.location,
                starts_at=starts_at,
                ends_at=ends_at,
                resource=candidate,
                vehicle_type=booking.vehicle_type,
            )
            booking.total_price = price.total
            booking.save(update_fields=["starts_at", "ends_at", "resource", "total_price"])
            _record(
                booking,
                kind="rescheduled",
                actor=actor,
                from_status=booking.status,
                to_status=booking.status,
                changes={
                    "from": before,
                    "to": {
                        "starts_at": starts_at.isoformat(),
                        "ends_at": ends_at.isoformat(),
                        "resource": candidate.name,
                    },
                },
            )
            email_queue(booking, kind=EmailKind.CHANGE, event_key=f"rescheduled:{booking.version}")
            return booking
    raise SlotUnavailable("This time was just taken. Please choose another.")


@transaction.atomic
def maintenance_schedule(
    *, actor: User | None, resource: Resource, starts_at: datetime, ends_at: datetime, reason: str
) -> Maintenance:
    """Take a resource out of service; refused if a booking already holds part of that time."""
    maintenance = Maintenance.objects.create(
        organization_id=resource.organization_id,
        resource=resource,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=reason,
        created_by=actor,
    )
    if not _occupy(
        resource=resource, starts_at=starts_at, ends_at=ends_at, maintenance=maintenance
    ):
        raise SlotUnavailable(
            f"{resource} is booked during this period; move those bookings first."
        )
    return maintenance

"""Making a booking: by a customer on the pages, through the API, or by staff.

Double booking is refused by PostgreSQL (Occupancy's exclusion constraint), not by a check here:
booking_create writes the booking, its occupancy, its timeline entry and its email in one
statement (bookings.services.occupancy.booking_insert) that writes nothing when the constraint
refuses the time, and moves on to the next resource when the customer asked for any; nothing
is read beforehand to find a free one. A transaction PostgreSQL still aborts as a deadlock or
serialization failure is run again whole (`atomic_with_retry`), so a racing customer gets a
booking or slot_taken, never a server error.
"""

from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Customer, Location, Organization, User
from accounts.services import customer_for_account, customer_for_desk, customer_for_guest
from bookings.errors import InvalidBookingRequest, SlotUnavailable
from bookings.metrics import counted_booking
from bookings.models import (
    Booking,
    BookingSource,
    BookingStatus,
    EmailKind,
    Service,
    ServiceKind,
    VehicleType,
)
from bookings.notifications import email_row, email_send_after_commit
from bookings.policy import booking_notice, books_at_the_desk
from bookings.pricing import quote
from bookings.selectors import OpeningCalendar, bookable_resources, period_refusal
from bookings.services.occupancy import booking_insert, new_confirmation_code
from bookings.services.timeline import event_audit, event_row
from config.database import atomic_with_retry
from fleet.models import Resource


def candidates(
    *,
    at_the_desk: bool,
    service: Service,
    location: Location,
    starts_at: datetime,
    ends_at: datetime,
    resource: Resource | None,
    outside_hours_reason: str = "",
) -> list[Resource]:
    """The resources that may take this booking by every rule except the race for it.

    At the desk (bookings.policy.books_at_the_desk) the slot under way may be booked, and with
    `outside_hours_reason` a time off the grid or outside opening hours: only the exclusion
    constraint then decides.
    """
    if not service.is_active:
        raise InvalidBookingRequest(f"{service} is not bookable at the moment.")
    resources = bookable_resources(service=service, location=location, resource=resource)
    if not resources:
        raise InvalidBookingRequest(
            f"{service} is not offered at {location}" + (f" by {resource}." if resource else ".")
        )
    if outside_hours_reason and not at_the_desk:
        raise InvalidBookingRequest("Only staff may book outside opening hours.")
    now = timezone.now()
    notice = booking_notice(service, at_the_desk=at_the_desk)
    # The rules of time live in one selector, so the car search offers only what passes here.
    refused = period_refusal(
        service=service,
        location=location,
        starts_at=starts_at,
        ends_at=ends_at,
        notice=notice,
        now=now,
        opening_hours=service.kind == ServiceKind.RENTAL and not outside_hours_reason,
    )
    if refused:
        raise refused
    if outside_hours_reason:
        return resources

    if service.kind == ServiceKind.APPOINTMENT:
        # On the grid of the day's opening hours, closures taken out. Which resource is free
        # is not read here: the claim itself finds the first free one (booking_insert).
        day = starts_at.astimezone(location.time_zone).date()
        step = timedelta(minutes=service.slot_granularity_minutes)
        if refused := OpeningCalendar(location, day, day).refusal(starts_at, ends_at, step=step):
            raise refused
    return resources


@counted_booking
@atomic_with_retry
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
    outside_hours_reason: str = "",
) -> Booking:
    """Book a service: an appointment slot (ends_at follows from the duration) or a rental.

    Without `resource`, the first free resource that serves the service takes it; if another
    request wins the race for it, the next free one is tried before SlotUnavailable is raised.
    The booking comes back with `quote`, how its price was reached (not stored).
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

    # The desk's rights come with booking at the desk: a member booking for themselves through
    # the app books as any customer does.
    at_the_desk = source == BookingSource.STAFF and books_at_the_desk(actor, service.organization)
    # Each free resource is first tried without waiting; one another request is claiming right
    # now goes to the back of the queue, to be waited for once the others have been tried.
    queue = [
        (candidate, False)
        for candidate in candidates(
            at_the_desk=at_the_desk,
            service=service,
            location=location,
            starts_at=starts_at,
            ends_at=ends_at,
            resource=resource,
            outside_hours_reason=outside_hours_reason,
        )
    ]
    for candidate, wait in queue:  # grows while it is read: the busy ones come back at the end
        price = quote(
            service=service,
            location=location,
            starts_at=starts_at,
            ends_at=ends_at,
            resource=candidate,
            vehicle_type=vehicle_type,
        )
        booking = Booking(
            organization=service.organization,  # loaded once: the emails read it too
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
            # The business made it, so it needs no confirmation of its own.
            status=BookingStatus.CONFIRMED if at_the_desk else BookingStatus.PENDING,
        )
        created = event_row(
            booking,
            kind="created",
            actor=actor,
            to_status=booking.status,
            changes={
                "resource": candidate.name,
                "starts_at": starts_at.isoformat(),
                "ends_at": ends_at.isoformat(),
                "total_price": str(price.total),
                **({"outside_hours": outside_hours_reason} if outside_hours_reason else {}),
            },
        )
        # A new booking's first email: no other process can have recorded this event yet.
        email = email_row(booking, kind=EmailKind.CONFIRMATION, event_key="created")
        followers = [created] if email is None else [created, email]
        claimed = booking_insert(booking, followers=followers, wait=wait)
        if claimed is None:
            queue.append((candidate, True))
            continue
        if claimed:
            booking.quote = price
            event_audit(created)
            if email is not None:
                email_send_after_commit(email)
            return booking
        # Taken (before, or by a request that just won the race); the next one may be free.
    if any(waited for _candidate, waited in queue):
        raise SlotUnavailable("This time was just taken. Please choose another.")
    raise SlotUnavailable("This time is not available.")


def _once_per_submission(submission_key: str, book: Callable[[], Booking]) -> Booking:
    """Book once per form: a form posted twice (a double click, a reload) carries the same
    `submission_key` and gets the first booking back, even when both posts race.

    The key is not looked up first (a round trip on every booking): a second post finds its
    time taken by the first (SlotUnavailable), or, booking another free resource, its key
    (IntegrityError), and only then looks for the first post's booking.
    """
    try:
        with transaction.atomic():
            return book()
    except (IntegrityError, SlotUnavailable):
        # Posted twice: the other post's booking committed first and holds the key.
        done = (
            Booking.objects.filter(submission_key=submission_key).first()
            if submission_key
            else None
        )
        if done is None:
            raise
        return done


@atomic_with_retry
def guest_booking_create(
    *,
    organization: Organization,
    full_name: str,
    email: str,
    phone: str = "",
    submission_key: str = "",
    **booking,
) -> Booking:
    """A booking from the booking pages, by a customer without an account: the whole step.

    The customer profile is found by email or made, in the booking's transaction: if the slot
    is taken, the new profile is rolled back with everything else.
    """

    def book() -> Booking:
        customer = customer_for_guest(
            organization=organization, full_name=full_name, email=email, phone=phone
        )
        return booking_create(
            actor=None,
            source=BookingSource.CUSTOMER,
            customer=customer,
            submission_key=submission_key,
            **booking,
        )

    return _once_per_submission(submission_key, book)


@atomic_with_retry
def desk_booking_create(
    *,
    actor: User,
    organization: Organization,
    customer: Customer | None,
    full_name: str = "",
    phone: str = "",
    email: str = "",
    submission_key: str = "",
    **booking,
) -> Booking:
    """A booking staff make at the desk for a walk-in or a caller: the whole step.

    The customer is the one picked, else found by email or phone, else made (a name and a phone
    are enough), in the booking's transaction, so a refused time leaves no new customer behind.
    """

    def book() -> Booking:
        booked_for = customer or customer_for_desk(
            organization=organization, full_name=full_name, phone=phone, email=email
        )
        return booking_create(
            actor=actor,
            source=BookingSource.STAFF,
            customer=booked_for,
            submission_key=submission_key,
            **booking,
        )

    return _once_per_submission(submission_key, book)


@atomic_with_retry
def account_booking_create(*, organization: Organization, user: User, **booking) -> Booking:
    """A booking through the API by a signed-in customer: their profile at the organization
    (made at their first booking) and the booking, in one transaction."""
    customer = customer_for_account(organization=organization, user=user)
    return booking_create(actor=user, source=BookingSource.API, customer=customer, **booking)

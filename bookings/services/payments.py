"""Taking money for a booking at the desk, and giving it back.

Each payment and each refund is a row of its own (bookings.models.Payment); the booking's
payment status is derived from its rows by `payment_status_of`, nowhere else. The booking's
row is locked first, so two payments taken at once (two tills, a double click) are checked one
after the other against what was already paid, and neither can pay more than the total.

Which bookings take money: any booking may be refunded, down to nothing; a cancelled booking
or a no-show takes no new payment. What such a booking kept (a deposit) was taken while it was
still on; charging a no-show fee would be a price of its own, not a payment of this booking.
"""

from decimal import Decimal

from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from accounts.models import User
from bookings.errors import PaymentRefused
from bookings.models import (
    Booking,
    BookingStatus,
    Payment,
    PaymentKind,
    PaymentMethod,
    PaymentStatus,
)
from bookings.services.timeline import event_record

# A cancelled booking and a no-show only give money back (the module's docstring says why).
NO_NEW_PAYMENT = frozenset({BookingStatus.CANCELLED, BookingStatus.NO_SHOW})


def net_paid(booking: Booking) -> Decimal:
    """What the booking's payments add up to after its refunds."""
    return _totals(booking)[0]


def payment_status_of(booking: Booking) -> str:
    """The booking's payment status as its payment rows make it: the one place it is decided.

    Unpaid: nothing kept and nothing ever refunded. Refunded: nothing kept, after a refund.
    Deposit paid: some of the price kept, not all. Paid: the price kept in full.
    """
    net, refunds = _totals(booking)
    if net <= 0:
        return PaymentStatus.REFUNDED if refunds else PaymentStatus.UNPAID
    if net < booking.total_price:
        return PaymentStatus.DEPOSIT_PAID
    return PaymentStatus.PAID


def _totals(booking: Booking) -> tuple[Decimal, int]:
    """The net amount kept, and how many refunds there were."""
    totals = Payment.objects.filter(booking_id=booking.pk).aggregate(
        paid=Sum("amount", filter=Q(kind=PaymentKind.PAYMENT), default=Decimal(0)),
        refunded=Sum("amount", filter=Q(kind=PaymentKind.REFUND), default=Decimal(0)),
        refunds=Count("pk", filter=Q(kind=PaymentKind.REFUND)),
    )
    return totals["paid"] - totals["refunded"], totals["refunds"]


def payment_record(
    *,
    actor: User | None,
    booking: Booking,
    amount: Decimal,
    method: str,
    is_deposit: bool = False,
    note: str = "",
    submission_key: str = "",
) -> Payment:
    """Take `amount` for the booking: never more than is still owed on its total price. A
    repeated `submission_key` (the desk form posted twice) returns the first payment."""
    return _payment_write(
        actor=actor,
        booking=booking,
        kind=PaymentKind.PAYMENT,
        amount=amount,
        method=method,
        is_deposit=is_deposit,
        note=note,
        submission_key=submission_key,
    )


def payment_refund(
    *,
    actor: User | None,
    booking: Booking,
    amount: Decimal,
    method: str,
    note: str = "",
    submission_key: str = "",
) -> Payment:
    """Give `amount` back through `method`: never more than the booking kept."""
    return _payment_write(
        actor=actor,
        booking=booking,
        kind=PaymentKind.REFUND,
        amount=amount,
        method=method,
        is_deposit=False,
        note=note,
        submission_key=submission_key,
    )


@transaction.atomic
def _payment_write(
    *,
    actor: User | None,
    booking: Booking,
    kind: str,
    amount: Decimal,
    method: str,
    is_deposit: bool,
    note: str,
    submission_key: str = "",
) -> Payment:
    _check_amount(amount)
    if method not in PaymentMethod.values:
        raise PaymentRefused(f"{method!r} is not a way of paying here.", method=method)
    # The booking's row lock serializes every payment of it; the scoped manager makes another
    # tenant's booking as absent as a missing one.
    booking = Booking.objects.select_for_update().get(pk=booking.pk)
    if submission_key and (done := Payment.objects.filter(submission_key=submission_key).first()):
        return done  # the same form posted again; the lock above made the first one visible
    net = net_paid(booking)
    if kind == PaymentKind.PAYMENT:
        if booking.status in NO_NEW_PAYMENT:
            raise PaymentRefused(
                f"A {booking.get_status_display().lower()} booking takes no new payment; "
                "it can only be refunded.",
                status=booking.status,
            )
        owed = booking.total_price - net
        if amount > owed:
            raise PaymentRefused(
                f"Only {owed} {booking.currency} is still owed on this booking "
                f"(price {booking.total_price}, paid {net}).",
                owed=str(owed),
            )
    elif amount > net:
        raise PaymentRefused(
            f"Only {net} {booking.currency} was paid for this booking; "
            f"{amount} cannot be refunded.",
            refundable=str(net),
        )

    amount = amount.quantize(Decimal("0.01"))  # 10.500 is 10.50, on the row and the timeline
    payment = Payment.objects.create(
        organization_id=booking.organization_id,
        booking=booking,
        kind=kind,
        method=method,
        amount=amount,
        currency=booking.currency,  # the organization's, as the booking's price was quoted
        is_deposit=is_deposit,
        recorded_by=actor,
        note=note,
        submission_key=submission_key,
    )
    before = booking.payment_status
    status = payment_status_of(booking)
    # The booking changed, so its version moves: a form showing the old payment status is stale.
    Booking.objects.filter(pk=booking.pk).update(
        payment_status=status, version=F("version") + 1, updated_at=timezone.now()
    )
    booking.refresh_from_db(fields=["payment_status", "version", "updated_at"])
    event_record(
        booking,
        kind=kind,
        actor=actor,
        changes={
            "amount": str(amount),
            "method": method,
            "currency": payment.currency,
            "is_deposit": is_deposit,
            "payment_status": {"from": before, "to": status},
        },
    )
    return payment


def _check_amount(amount: Decimal) -> None:
    """A positive sum of whole cents; a float's binary fraction is never money."""
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise PaymentRefused(f"{amount!r} is not a positive sum of money.")
    if amount.normalize().as_tuple().exponent < -2:
        raise PaymentRefused(f"{amount} has more than two decimal places.")

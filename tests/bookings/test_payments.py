"""Payments at the desk: the rows decide the booking's payment status, no booking is paid past
its price or refunded past what it kept, payments taken at once are checked one after the other,
and only the roles that may take or see money do."""

import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from accounts import roles
from bookings.errors import PaymentRefused
from bookings.models import (
    Booking,
    BookingEvent,
    BookingStatus,
    Payment,
    PaymentKind,
    PaymentMethod,
    PaymentStatus,
)
from bookings.services import payment_record, payment_refund, payment_status_of
from tests.factories import BookingFactory, MembershipFactory
from tests.scenarios import CarWash, Engine, book

CARD, CASH = PaymentMethod.CARD, PaymentMethod.CASH


def pay(booking: Booking, amount: str, method: str = CARD, **fields) -> Payment:
    with scope(organization=booking.organization):
        return payment_record(
            actor=None, booking=booking, amount=Decimal(amount), method=method, **fields
        )


def refund(booking: Booking, amount: str, method: str = CARD) -> Payment:
    with scope(organization=booking.organization):
        return payment_refund(actor=None, booking=booking, amount=Decimal(amount), method=method)


def fresh(booking: Booking) -> Booking:
    with scopes_disabled():
        return Booking.objects.get(pk=booking.pk)


def payments_of(booking: Booking) -> list[tuple[str, Decimal]]:
    with scopes_disabled():
        return list(Payment.objects.filter(booking=booking).values_list("kind", "amount"))


@pytest.fixture
def booking(wash: CarWash) -> Booking:
    """A 30.00 wash, booked by the customer, nothing paid."""
    with scope(organization=wash.organization):
        return book(wash)


def test_a_deposit_then_the_rest_make_the_booking_paid(booking):
    assert booking.total_price == Decimal("30.00")

    deposit = pay(booking, "10.00", CASH, is_deposit=True)
    assert fresh(booking).payment_status == PaymentStatus.DEPOSIT_PAID
    assert (deposit.currency, deposit.is_deposit, deposit.method) == ("EUR", True, CASH)

    pay(booking, "20.00")
    assert fresh(booking).payment_status == PaymentStatus.PAID
    assert payments_of(booking) == [("payment", Decimal("10.00")), ("payment", Decimal("20.00"))]


def test_paying_more_than_is_owed_is_refused_and_changes_nothing(booking):
    pay(booking, "25.00")
    version = fresh(booking).version

    with pytest.raises(PaymentRefused, match=r"Only 5\.00 EUR is still owed") as refused:
        pay(booking, "5.01")

    assert refused.value.code == "payment_refused"
    assert refused.value.status_code == 409
    assert payments_of(booking) == [("payment", Decimal("25.00"))]
    assert fresh(booking).version == version
    assert fresh(booking).payment_status == PaymentStatus.DEPOSIT_PAID


def test_a_refund_of_everything_makes_the_booking_refunded_a_part_leaves_part_paid(booking):
    pay(booking, "30.00")

    refund(booking, "10.00")
    assert fresh(booking).payment_status == PaymentStatus.DEPOSIT_PAID
    refund(booking, "20.00", CASH)
    assert fresh(booking).payment_status == PaymentStatus.REFUNDED

    # paid again after the refund: the rows, not the history of statuses, decide
    pay(booking, "30.00")
    assert fresh(booking).payment_status == PaymentStatus.PAID


def test_refunding_more_than_was_kept_is_refused(booking):
    with pytest.raises(PaymentRefused, match=r"Only 0 EUR was paid"):
        refund(booking, "1.00")

    pay(booking, "12.00")
    with pytest.raises(PaymentRefused, match=r"Only 12\.00 EUR was paid"):
        refund(booking, "12.01")
    assert payments_of(booking) == [("payment", Decimal("12.00"))]
    assert fresh(booking).payment_status == PaymentStatus.DEPOSIT_PAID


@pytest.mark.parametrize(
    "amount",
    [Decimal("10.001"), Decimal("0.005"), Decimal("0"), Decimal("-5.00"), Decimal("NaN"), 10.5],
)
def test_amounts_that_are_not_whole_cents_or_not_positive_are_refused(booking, amount):
    with pytest.raises(PaymentRefused), scope(organization=booking.organization):
        payment_record(actor=None, booking=booking, amount=amount, method=CARD)
    assert payments_of(booking) == []


def test_an_unknown_method_is_refused(booking):
    with pytest.raises(PaymentRefused, match="not a way of paying"):
        pay(booking, "1.00", method="iou")
    assert payments_of(booking) == []


def test_trailing_zeros_are_still_whole_cents(booking):
    pay(booking, "10.500")
    assert payments_of(booking) == [("payment", Decimal("10.50"))]


def test_a_cancelled_booking_takes_no_payment_but_gives_its_deposit_back(wash):
    # given a booking cancelled after a 6.00 deposit (the factory writes the deposit's row)
    cancelled = BookingFactory(
        resource=wash.bay1,
        service=wash.service,
        customer=wash.customer,
        status=BookingStatus.CANCELLED,
        payment_status=PaymentStatus.DEPOSIT_PAID,
    )
    with scopes_disabled():
        assert payment_status_of(cancelled) == PaymentStatus.DEPOSIT_PAID

    with pytest.raises(PaymentRefused, match="cancelled booking takes no new payment"):
        pay(cancelled, "1.00")
    refund(cancelled, "6.00", CASH)

    assert fresh(cancelled).payment_status == PaymentStatus.REFUNDED


def test_a_no_show_takes_no_payment(wash):
    no_show = BookingFactory(
        resource=wash.bay1, service=wash.service, customer=wash.customer, status="no_show"
    )
    with pytest.raises(PaymentRefused, match="no-show booking takes no new payment"):
        pay(no_show, "1.00")


def test_each_payment_bumps_the_version_and_goes_on_the_timeline(booking, wash):
    version = booking.version

    with scope(organization=wash.organization):
        payment = payment_record(
            actor=wash.owner, booking=booking, amount=Decimal("30.00"), method=CARD
        )
        payment_refund(actor=wash.owner, booking=booking, amount=Decimal("5.00"), method=CASH)
        events = list(
            BookingEvent.objects.filter(booking=booking, kind__in=PaymentKind.values).values(
                "kind", "actor", "changes"
            )
        )

    assert payment.recorded_by == wash.owner
    assert payment.booking.version == version + 1  # the locked booking, as it is now
    assert fresh(booking).version == version + 2
    assert events == [
        {
            "kind": "payment",
            "actor": wash.owner.pk,
            "changes": {
                "amount": "30.00",
                "method": "card",
                "currency": "EUR",
                "is_deposit": False,
                "payment_status": {"from": "unpaid", "to": "paid"},
            },
        },
        {
            "kind": "refund",
            "actor": wash.owner.pk,
            "changes": {
                "amount": "5.00",
                "method": "cash",
                "currency": "EUR",
                "is_deposit": False,
                "payment_status": {"from": "paid", "to": "deposit_paid"},
            },
        },
    ]


def test_another_tenant_s_booking_cannot_be_paid_from_this_tenant_s_scope(booking, wash):
    other = CarWash("Other", "other-wash")

    # the desk of `other` reaches only its own bookings: this one is as absent as a missing one
    with pytest.raises(Booking.DoesNotExist), scope(organization=other.organization):
        payment_record(actor=other.owner, booking=booking, amount=Decimal("1.00"), method=CARD)
    assert payments_of(booking) == []


@pytest.fixture
def racing_booking(transactional_db, fixed_now) -> Booking:
    wash = CarWash()
    with scope(organization=wash.organization):
        return book(wash)


CONTENDERS = 10


def test_payments_taken_at_once_are_checked_one_after_the_other(racing_booking):
    # given ten tills taking 5.00 each for a 30.00 booking at the same instant
    barrier = threading.Barrier(CONTENDERS)
    results: list[object] = []

    def till() -> None:
        try:
            barrier.wait()
            results.append(pay(racing_booking, "5.00"))
        except PaymentRefused as error:
            results.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=till) for _ in range(CONTENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then six were taken, four refused, and the booking is paid exactly once over
    assert sum(isinstance(r, Payment) for r in results) == 6
    assert sum(isinstance(r, PaymentRefused) for r in results) == CONTENDERS - 6
    booking = fresh(racing_booking)
    assert sum(amount for _, amount in payments_of(booking)) == Decimal("30.00")
    assert booking.payment_status == PaymentStatus.PAID
    assert booking.version == racing_booking.version + 6


# --- Who may see and take payments ----------------------------------------------------------


@pytest.fixture
def paid(tenant_a, tenant_b, fixed_now) -> dict[str, Payment]:
    """A payment of each of tenant A's bookings (the staff member's chair, a bay at the main
    location, a bay at the annex) and one of tenant B's."""
    a, b = Engine(tenant_a), Engine(tenant_b)
    return {
        "own": pay(a.own_booking, "1.00"),
        "bay": pay(a.bay_booking, "2.00"),
        "far": pay(a.far_booking, "3.00"),
        "other tenant": pay(b.own_booking, "4.00"),
    }


@pytest.mark.parametrize(
    ("role", "visible"),
    [
        ("owner", {"own", "bay", "far"}),
        ("manager", {"own", "bay"}),  # limited to the main location
        ("staff", {"own"}),  # their own chair's bookings only
        ("customer", set()),
    ],
)
def test_view_payment_is_permitted_per_role(tenant_a, paid, role, visible):
    user = tenant_a.user(role)
    names = {payment.pk: name for name, payment in paid.items()}

    with scopes_disabled():
        rows = roles.permitted(user, "bookings.view_payment", Payment.objects.all())
        assert {names[pk] for pk in rows.values_list("pk", flat=True)} == visible
    for name, payment in paid.items():
        assert user.has_perm("bookings.view_payment", payment) == (name in visible)


def test_staff_take_payments_of_their_own_bookings_and_refund_none(tenant_a, paid):
    own, bay = paid["own"].booking, paid["bay"].booking
    staff, manager, owner = tenant_a.staff, tenant_a.manager, tenant_a.owner

    assert staff.has_perm("bookings.add_payment", own)
    assert not staff.has_perm("bookings.add_payment", bay)
    assert not staff.has_perm("bookings.refund_payment", own)
    assert manager.has_perm("bookings.add_payment", bay)
    assert manager.has_perm("bookings.refund_payment", bay)
    assert not manager.has_perm("bookings.add_payment", paid["far"].booking)
    assert owner.has_perm("bookings.refund_payment", paid["far"].booking)
    assert not owner.has_perm("bookings.add_payment", paid["other tenant"].booking)


def test_the_admin_ledger_is_read_only(tenant_a, paid, client_for):
    client = client_for(tenant_a.owner)
    changelist = client.get(reverse("admin:bookings_payment_changelist"))

    assert changelist.status_code == 200
    page = changelist.content.decode()
    assert paid["far"].booking.code in page
    assert paid["other tenant"].booking.code not in page
    assert client.get(reverse("admin:bookings_payment_add")).status_code == 403
    change = reverse("admin:bookings_payment_change", args=[paid["own"].pk])
    assert client.post(change, {"amount": "100.00"}).status_code == 403
    delete = reverse("admin:bookings_payment_delete", args=[paid["own"].pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    with scopes_disabled():
        assert Payment.objects.get(pk=paid["own"].pk).amount == Decimal("1.00")


def test_staff_see_their_own_payments_in_the_admin(tenant_a, paid, client_for):
    page = client_for(tenant_a.staff).get(reverse("admin:bookings_payment_changelist"))

    assert page.status_code == 200
    content = page.content.decode()
    assert paid["own"].booking.code in content
    assert paid["bay"].booking.code not in content


def test_a_member_of_two_organizations_pays_in_each_only_by_their_role_there(tenant_a, paid):
    user = tenant_a.staff
    MembershipFactory(organization=paid["other tenant"].organization, user=user, role="owner")
    user = type(user).objects.get(pk=user.pk)  # grants are cached per user object

    assert user.has_perm("bookings.refund_payment", paid["other tenant"].booking)
    assert not user.has_perm("bookings.refund_payment", paid["own"].booking)

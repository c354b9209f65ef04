"""The customer's history at the desk: their bookings, the totals, the roles, and finding a
customer by a phone number however it is typed."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bookings.models import BookingStatus, PaymentStatus
from tests.factories import BookingFactory, CustomerFactory, ResourceFactory
from tests.scenarios import LATER_TODAY, TWO_DAYS_AGO

pytestmark = pytest.mark.usefixtures("fixed_now")


def history_url(customer) -> str:
    return reverse("admin:workspace_customer", args=[customer.pk])


def listed(response, section: str) -> list[str]:
    return [booking.code for booking in getattr(response.context["history"], section)]


@pytest.fixture
def desk(tenant_a):
    """A's customer with a booking at each of A's locations, and one on the staff member's time.

    Main location (the manager's and the staff member's): a completed paid wash two days ago
    (40.00), a no-show yesterday, an upcoming confirmed booking later today on the staff
    member's own time. The annex: a completed paid wash (25.00), a completed unpaid one, and an
    upcoming cancelled one.
    """
    t = tenant_a
    main_bay = ResourceFactory(location=t.location, name="Main bay")
    annex_bay = ResourceFactory(location=t.other_location, name="Annex bay")
    staff_time = ResourceFactory(
        location=t.location, kind="staff", name="Staff time", membership=t.staff_membership
    )

    def book(resource, starts_at, status, price, paid=False):
        return BookingFactory(
            resource=resource,
            customer=t.customer,
            starts_at=starts_at,
            status=status,
            payment_status=PaymentStatus.PAID if paid else PaymentStatus.UNPAID,
            total_price=Decimal(price),
        )

    t.paid_main = book(main_bay, TWO_DAYS_AGO, BookingStatus.COMPLETED, "40.00", paid=True)
    t.no_show = book(main_bay, LATER_TODAY - timedelta(days=1), BookingStatus.NO_SHOW, "40.00")
    t.own_upcoming = book(staff_time, LATER_TODAY, BookingStatus.CONFIRMED, "30.00")
    t.paid_annex = book(
        annex_bay, TWO_DAYS_AGO - timedelta(hours=3), BookingStatus.COMPLETED, "25.00", paid=True
    )
    t.unpaid_annex = book(
        annex_bay, TWO_DAYS_AGO - timedelta(days=1), BookingStatus.COMPLETED, "99.00"
    )
    t.cancelled = book(annex_bay, LATER_TODAY + timedelta(days=3), BookingStatus.CANCELLED, "50")
    # Another customer of A's, whose bookings must not appear.
    BookingFactory(resource=main_bay, starts_at=TWO_DAYS_AGO, status=BookingStatus.COMPLETED)
    return t


def test_the_owner_sees_every_booking_split_upcoming_and_past_with_totals(desk, client_for):
    response = client_for(desk.owner).get(history_url(desk.customer))

    assert response.status_code == 200
    assert listed(response, "upcoming") == [desk.own_upcoming.code, desk.cancelled.code]
    assert listed(response, "past") == [
        desk.no_show.code,
        desk.paid_main.code,
        desk.paid_annex.code,
        desk.unpaid_annex.code,
    ]
    history = response.context["history"]
    assert history.total_spent == Decimal("65.00")  # completed and paid only
    assert (history.no_shows, history.cancellations) == (1, 1)
    body = response.content.decode()
    assert desk.customer.full_name in body and desk.customer.email in body
    assert "+358401234567" in body
    assert "65.00 EUR" in body
    assert reverse("admin:bookings_booking_change", args=[desk.paid_main.pk]) in body
    assert f"{reverse('admin:workspace_book')}?customer={desk.customer.pk}" in body


def test_times_are_the_locations_wall_clock_labelled_with_its_zone(desk, client_for):
    body = client_for(desk.owner).get(history_url(desk.customer)).content.decode()
    # LATER_TODAY is 14:00 UTC on 7 December 2029: 16:00 in Helsinki (EET, UTC+2).
    assert "2029-12-07 16:00 EET" in body
    assert "Europe/Helsinki" in body


def test_a_manager_sees_the_bookings_and_totals_of_their_location_only(desk, client_for):
    response = client_for(desk.manager).get(history_url(desk.customer))

    assert response.status_code == 200
    assert listed(response, "upcoming") == [desk.own_upcoming.code]
    assert listed(response, "past") == [desk.no_show.code, desk.paid_main.code]
    history = response.context["history"]
    assert (history.total_spent, history.no_shows, history.cancellations) == (
        Decimal("40.00"),
        1,
        0,
    )


def test_a_staff_member_sees_the_customer_and_only_their_own_schedules_bookings(desk, client_for):
    response = client_for(desk.staff).get(history_url(desk.customer))

    assert response.status_code == 200
    assert listed(response, "upcoming") == [desk.own_upcoming.code]
    assert listed(response, "past") == []
    assert response.context["history"].total_spent == Decimal("0")


@pytest.mark.parametrize("role", ["owner", "manager", "staff"])
def test_another_tenants_customer_is_as_absent_as_a_missing_one(role, desk, tenant_b, client_for):
    client = client_for(tenant_b.user(role))
    other = client.get(history_url(desk.customer))
    missing = client.get(reverse("admin:workspace_customer", args=[desk.customer.pk + 1000]))

    assert other.status_code == missing.status_code == 404
    assert desk.customer.full_name not in other.content.decode()


def test_a_customer_account_does_not_reach_the_desk(desk, client_for):
    response = client_for(desk.customer_user).get(history_url(desk.customer))
    assert response.status_code == 302  # to the admin's sign-in


def test_the_page_costs_the_same_queries_for_2_or_20_bookings(tenant_a, client_for):
    few, many = (CustomerFactory(organization=tenant_a.organization) for _ in range(2))
    bay = ResourceFactory(location=tenant_a.location)
    for customer, count in ((few, 2), (many, 20)):
        for day in range(count):
            BookingFactory(
                resource=bay,
                customer=customer,
                starts_at=TWO_DAYS_AGO + timedelta(days=day - 10),
                status=BookingStatus.COMPLETED,
            )
    client = client_for(tenant_a.owner)
    client.get(history_url(few))  # warm the session and the admin's caches

    counts = []
    for customer in (few, many):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(history_url(customer)).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_the_customer_change_page_links_to_the_history(tenant_a, client_for):
    response = client_for(tenant_a.staff).get(
        reverse("admin:accounts_customer_change", args=[tenant_a.customer.pk])
    )
    assert history_url(tenant_a.customer) in response.content.decode()


@pytest.mark.parametrize(
    "typed",
    ["040 123 4567", "+358401234567", "+358 40 123 4567", "00358 40-123 4567", "0401234567"],
)
def test_the_customer_list_finds_a_phone_number_however_it_is_typed(
    typed, tenant_a, tenant_b, client_for
):
    # given A's and B's customers share the number (CustomerFactory's), and a third has another
    stranger = CustomerFactory(organization=tenant_a.organization, phone="+358501112222")

    response = client_for(tenant_a.manager).get(
        reverse("admin:accounts_customer_changelist"), {"q": typed}
    )

    found = set(response.context["cl"].result_list)
    assert tenant_a.customer in found
    assert stranger not in found
    assert tenant_b.customer not in found  # the same number at another business stays there
    assert tenant_b.customer.full_name not in response.content.decode()


def test_a_short_or_wordy_search_is_not_read_as_a_phone_number(tenant_a, client_for):
    client = client_for(tenant_a.owner)
    url = reverse("admin:accounts_customer_changelist")
    assert list(client.get(url, {"q": "040"}).context["cl"].result_list) == []
    by_name = client.get(url, {"q": tenant_a.customer.full_name}).context["cl"].result_list
    assert list(by_name) == [tenant_a.customer]

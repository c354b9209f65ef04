"""Staff endpoints: schedules by role, a booking's timeline, the status moves."""

from datetime import timedelta

import pytest
from django.db import connection
from django_scopes import scopes_disabled

from accounts.models import Role
from tests.factories import MembershipFactory, ResourceFactory
from tests.scenarios import MONDAY_10

STAFF = "/api/v1/organizations/alpha/staff/"


def codes(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [booking["code"] for booking in response.json()["results"]]


@pytest.fixture
def colleague_booking(alpha):
    """A booking on another staff member's time at the same location."""
    colleague = MembershipFactory(
        organization=alpha.organization, role=Role.STAFF, locations=[alpha.location]
    )
    time = ResourceFactory(location=alpha.location, kind="staff", membership=colleague)
    with scopes_disabled():
        alpha.service.resources.add(time)
        return alpha.book(resource=time)


@pytest.mark.parametrize(
    ("role", "sees_colleague"), [("staff", False), ("manager", True), ("owner", True)]
)
def test_a_location_schedule_shows_what_the_role_may_see(
    alpha, api, colleague_booking, role, sees_colleague
):
    response = api(alpha.user(role)).get(
        f"{STAFF}schedule/?date=2030-01-07&location={alpha.location.pk}"
    )

    expected = {alpha.booking.code} | ({colleague_booking.code} if sees_colleague else set())
    assert set(codes(response)) == expected


def test_the_schedule_covers_local_days_in_start_order(alpha, api):
    with scopes_disabled():
        # Tuesday morning is on a 7-day schedule from Monday but not on Monday's.
        late = alpha.book(resource=alpha.staff_time, starts_at=MONDAY_10.replace(day=8, hour=9))
        next_week = alpha.book(resource=alpha.staff_time, starts_at=MONDAY_10.replace(day=14))
    owner = api(alpha.owner)
    path = f"{STAFF}schedule/?resource={alpha.staff_time.pk}&date=2030-01-07"

    assert codes(owner.get(path)) == [alpha.booking.code]
    assert codes(owner.get(f"{path}&days=7")) == [alpha.booking.code, late.code]
    assert next_week.code not in codes(owner.get(f"{path}&days=7"))


@pytest.mark.parametrize(
    ("query", "field"),
    [("date=2030-01-07", "non_field_errors"), ("date=2030-01-07&location=1&days=8", "days")],
)
def test_bad_schedule_queries_are_refused(alpha, api, query, field):
    response = api(alpha.owner).get(f"{STAFF}schedule/?{query}")

    assert response.status_code == 400
    assert field in response.json()["error"]["details"]


def test_a_booking_moves_through_its_lifecycle_and_shows_its_timeline(alpha, api):
    client = api(alpha.staff)
    path = f"{STAFF}bookings/{alpha.booking.code}/"

    for version, move in enumerate(["confirm", "start", "complete"], start=1):
        response = client.post(f"{path}{move}/", {"version": version})
        assert response.status_code == 200, response.content

    detail = client.get(path).json()
    assert detail["status"] == "completed"
    assert detail["customer"]["email"] == alpha.customer.email
    assert [(e["kind"], e["to_status"], e["actor"]) for e in detail["events"]] == [
        ("created", "pending", None),
        ("confirmed", "confirmed", alpha.staff.email),
        ("started", "in_progress", alpha.staff.email),
        ("completed", "completed", alpha.staff.email),
    ]


def test_an_illegal_move_answers_409_invalid_transition(alpha, api):
    response = api(alpha.owner).post(
        f"{STAFF}bookings/{alpha.booking.code}/complete/", {"version": 1}
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_transition"


def test_staff_may_cancel_after_the_customers_cutoff_with_a_reason(alpha, api):
    alpha.organization.cancellation_cutoff = timedelta(days=60)
    alpha.organization.save(update_fields=["cancellation_cutoff"])

    response = api(alpha.owner).post(
        f"{STAFF}bookings/{alpha.booking.code}/cancel/", {"version": 1, "reason": "Closed"}
    )

    assert response.status_code == 200
    assert response.json()["events"][-1]["changes"] == {"cancellation_reason": "Closed"}


def test_an_unknown_move_is_a_404(alpha, api):
    response = api(alpha.owner).post(
        f"{STAFF}bookings/{alpha.booking.code}/teleport/", {"version": 1}
    )
    assert response.status_code == 404


def test_customers_are_found_by_part_of_name_or_whole_email_or_phone(alpha, api):
    client = api(alpha.staff)

    by_name = client.get(f"{STAFF}customers/?search=alpha cust").json()["results"]
    by_phone = client.get(f"{STAFF}customers/?search=040 123 4567").json()["results"]
    by_email = client.get(f"{STAFF}customers/?search=CUSTOMER@Alpha.example").json()["results"]
    nobody = client.get(f"{STAFF}customers/?search=zebra").json()["results"]
    # Email and phone are encrypted: only the whole of either is found (its blind index).
    part_of_email = client.get(f"{STAFF}customers/?search=customer@alpha").json()["results"]
    part_of_phone = client.get(f"{STAFF}customers/?search=40123").json()["results"]

    assert [c["email"] for c in by_name] == [alpha.customer.email]
    assert [c["email"] for c in by_phone] == [alpha.customer.email]
    assert [c["email"] for c in by_email] == [alpha.customer.email]
    assert nobody == part_of_email == part_of_phone == []


def test_a_customer_whose_stored_email_was_altered_answers_409_not_500(alpha, api):
    with scopes_disabled(), connection.cursor() as cursor:  # as the owner: past the row policy
        cursor.execute(
            "UPDATE accounts_customer SET email = left(email, -4) || 'AAAA' WHERE id = %s",
            [alpha.customer.pk],
        )

    response = api(alpha.staff).get(f"{STAFF}customers/?search=alpha cust")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "unreadable_personal_data"
    assert "customer@alpha.example" not in response.content.decode()

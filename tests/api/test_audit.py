"""The audit trail through the API: the staff's customer lookup and booking moves are recorded
once each with their origin; a customer's own bookings are not (accounts/audit.py)."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from accounts.models import AuditAction, AuditEntry

STAFF = "/api/v1/organizations/alpha/staff/"
ORIGIN = {"REMOTE_ADDR": "203.0.113.9", "HTTP_USER_AGENT": "DeskApp/2.1"}


def entries() -> list[AuditEntry]:
    with scopes_disabled():
        return list(AuditEntry.objects.order_by("pk"))


def test_a_customer_lookup_records_who_was_shown_but_not_what_was_searched(alpha, api):
    response = api(alpha.staff).get(
        f"{STAFF}customers/?search={alpha.customer.email}",
        HTTP_X_REQUEST_ID="lookup-request-1",
        **ORIGIN,
    )

    assert response.status_code == 200
    assert [c["id"] for c in response.json()["results"]] == [alpha.customer.pk]
    (entry,) = entries()
    assert (entry.actor_id, entry.action, entry.organization_id) == (
        alpha.staff.pk,
        AuditAction.CUSTOMER_LISTED,
        alpha.organization.pk,
    )
    assert (entry.address, entry.user_agent, entry.request_id) == (
        "203.0.113.9",
        "DeskApp/2.1",
        "lookup-request-1",
    )
    assert entry.details == {"customer_ids": [alpha.customer.pk]}
    with scopes_disabled(), connection.cursor() as cursor:  # the stored row, as the owner
        cursor.execute("SELECT row_to_json(e)::text FROM accounts_auditentry e")
        (row,) = cursor.fetchone()
    assert "@" not in row


def test_a_refused_lookup_records_nothing(alpha, bravo, api):
    assert api(alpha.customer_user).get(f"{STAFF}customers/").status_code == 403
    assert api(bravo.owner).get(f"{STAFF}customers/").status_code == 403

    assert entries() == []


def test_each_move_by_staff_is_one_entry_pointing_at_the_timeline(alpha, api):
    client = api(alpha.staff)
    path = f"{STAFF}bookings/{alpha.booking.code}/"

    for version, move in enumerate(["confirm", "start", "complete"], start=1):
        response = client.post(
            f"{path}{move}/", {"version": version}, HTTP_X_REQUEST_ID=f"move-{move}", **ORIGIN
        )
        assert response.status_code == 200, response.content

    with scopes_disabled():
        timeline = {e.kind: e.pk for e in alpha.booking.events.all()}
    moves = [("confirmed", "confirm"), ("started", "start"), ("completed", "complete")]
    assert [
        (e.action, e.actor_id, e.target_id, e.details["event"], e.request_id) for e in entries()
    ] == [
        (AuditAction.BOOKING_CHANGED, alpha.staff.pk, alpha.booking.pk, kind, f"move-{move}")
        for kind, move in moves
    ]
    assert [e.details["booking_event_id"] for e in entries()] == [
        timeline["confirmed"],
        timeline["started"],
        timeline["completed"],
    ]
    assert {e.address for e in entries()} == {"203.0.113.9"}


def test_a_customers_own_booking_and_cancellation_stay_out_of_the_trail(alpha, api):
    client = api(alpha.customer_user)

    made = client.post(
        "/api/v1/organizations/alpha/bookings/",
        {
            "service": alpha.service.pk,
            "location": alpha.location.pk,
            "starts_at": "2030-01-08T12:00:00+02:00",
        },
    )
    cancelled = client.post(
        f"/api/v1/me/bookings/{alpha.booking.code}/cancel/", {"version": 1, "reason": "Ill"}
    )

    assert (made.status_code, cancelled.status_code) == (201, 200)
    assert entries() == []


def test_a_staff_move_costs_one_insert_and_a_customers_booking_nothing(alpha, api):
    """The trail's price on the hot paths: one INSERT on staff's paths (their roles are already
    read to allow the move), not a statement on a customer's (test_query_counts pins those)."""
    staff, customer = api(alpha.staff), api(alpha.customer_user)

    with CaptureQueriesContext(connection) as moving:
        confirmed = staff.post(f"{STAFF}bookings/{alpha.booking.code}/confirm/", {"version": 1})
    with CaptureQueriesContext(connection) as booking:
        made = customer.post(
            "/api/v1/organizations/alpha/bookings/",
            {
                "service": alpha.service.pk,
                "location": alpha.location.pk,
                "starts_at": "2030-01-08T12:00:00+02:00",
            },
        )

    assert (confirmed.status_code, made.status_code) == (200, 201)
    assert len(statements(moving, 'INSERT INTO "accounts_auditentry"')) == 1
    # the roles are read once, for the permission check; the trail asks them nothing more
    assert len(statements(moving, 'SELECT "accounts_membership"."id"')) == 1
    assert statements(booking, 'INSERT INTO "accounts_auditentry"') == []


def statements(captured: CaptureQueriesContext, start: str) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if q["sql"].startswith(start)]


def test_the_schedule_and_a_bookings_page_record_the_customers_they_showed(alpha, api):
    client = api(alpha.staff)

    schedule = client.get(f"{STAFF}schedule/?date=2030-01-07&location={alpha.location.pk}")
    detail = client.get(f"{STAFF}bookings/{alpha.booking.code}/")
    empty_day = client.get(f"{STAFF}schedule/?date=2030-01-09&location={alpha.location.pk}")
    nobody = client.get(f"{STAFF}customers/?search=zebra")

    assert [r.status_code for r in (schedule, detail, empty_day, nobody)] == [200] * 4
    assert detail.json()["customer"]["id"] == alpha.customer.pk
    listed, viewed = entries()  # a list that showed nobody is not recorded
    assert (listed.action, listed.details) == (
        AuditAction.CUSTOMER_LISTED,
        {"via": "schedule", "customer_ids": [alpha.customer.pk]},
    )
    assert (viewed.action, viewed.target_id, viewed.details) == (
        AuditAction.CUSTOMER_VIEWED,
        alpha.customer.pk,
        {"booking": alpha.booking.code},
    )

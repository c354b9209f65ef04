"""A signed-in customer books, lists, cancels, reschedules and reviews through the API."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django_scopes import scopes_disabled

from bookings.models import Booking, BookingStatus
from bookings.services import booking_complete, booking_confirm, booking_start
from config.api.models import IDEMPOTENCY_KEY_LIFETIME, IdempotencyRecord
from config.api.tasks import idempotency_records_purge
from tests.factories import CustomerFactory
from tests.scenarios import NOW, SLOT, ApiTenant


def create(client, t: ApiTenant, key: str | None = None, **fields):
    body = {"service": t.service.pk, "location": t.location.pk, "starts_at": SLOT, **fields}
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(f"/api/v1/organizations/{t.organization.slug}/bookings/", body, **headers)


def bookings_of(t: ApiTenant) -> int:
    with scopes_disabled():
        return Booking.objects.filter(organization=t.organization).count()


def error_of(response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def test_a_slot_booking_answers_with_the_booking_and_its_quote(alpha, api):
    response = create(api(alpha.customer_user), alpha, vehicle_type="suv", notes="Muddy")

    assert response.status_code == 201
    body = response.json()
    assert body["starts_at"] == SLOT
    assert body["ends_at"] == "2030-01-07T13:00:00+02:00"
    assert body["status"] == "pending"
    assert body["quote"] == {"unit_price": "30.00", "units": 1, "total": "30.00", "currency": "EUR"}
    with scopes_disabled():
        booking = Booking.objects.select_related("customer").get(code=body["code"])
    assert booking.customer.user == alpha.customer_user
    assert booking.notes == "Muddy"


def test_a_two_day_rental_is_quoted_per_day(alpha, api):
    response = create(
        api(alpha.customer_user),
        alpha,
        service=alpha.rental.pk,
        car=alpha.car.pk,
        starts_at="2030-01-08T09:00:00+02:00",
        ends_at="2030-01-10T09:00:00+02:00",
    )

    assert response.status_code == 201, response.content
    assert response.json()["quote"]["units"] == 2
    assert Decimal(response.json()["total_price"]) == 2 * alpha.car.daily_rate


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"starts_at": "2030-01-07T12:00:00"}, "starts_at"),  # no UTC offset
        ({"starts_at": "tomorrow"}, "starts_at"),
        ({"service": 10**9}, "service"),
        ({"location": "first"}, "location"),
        ({"vehicle_type": "tank"}, "vehicle_type"),
        ({"notes": "x" * 2001}, "notes"),
        ({"resource": 1, "car": 1}, "car"),
    ],
)
def test_bad_input_names_the_field_and_books_nothing(alpha, api, fields, field):
    before = bookings_of(alpha)

    response = create(api(alpha.customer_user), alpha, **fields)

    assert error_of(response) == (400, "validation_error")
    assert field in response.json()["error"]["details"]
    assert bookings_of(alpha) == before


def test_a_rental_without_a_return_time_is_refused(alpha, api):
    response = create(api(alpha.customer_user), alpha, service=alpha.rental.pk, car=alpha.car.pk)

    assert error_of(response) == (400, "invalid_booking")


def test_a_taken_slot_answers_409_slot_taken_and_writes_nothing(alpha, api):
    before = bookings_of(alpha)

    response = create(
        api(alpha.customer_user),
        alpha,
        starts_at="2030-01-07T10:00:00+02:00",
        resource=alpha.staff_time.pk,
    )

    assert error_of(response) == (409, "slot_taken")
    assert bookings_of(alpha) == before


@pytest.mark.parametrize(
    ("starts_at", "code"),
    [
        ("2029-12-07T10:00:00+02:00", "too_soon"),  # before the frozen clock's now
        ("2045-01-02T12:00:00+02:00", "too_far_ahead"),  # past the 3650 days ahead
        ("2030-01-07T07:00:00+02:00", "outside_opening_hours"),  # opens at 09:00
        ("2030-01-07T12:30:00+02:00", "off_grid"),  # open, but slots start on the hour
    ],
)
def test_a_time_the_rules_refuse_answers_422_with_its_own_code(alpha, api, starts_at, code):
    before = bookings_of(alpha)

    response = create(api(alpha.customer_user), alpha, starts_at=starts_at)

    assert error_of(response) == (422, code)
    assert bookings_of(alpha) == before


# --- Idempotency-Key --------------------------------------------------------------------------


def test_a_replayed_create_returns_the_first_answer_and_books_nothing_new(alpha, api):
    client = api(alpha.customer_user)
    first = create(client, alpha, key="order-1")
    count = bookings_of(alpha)

    replay = create(client, alpha, key="order-1")

    assert replay.status_code == 201
    assert replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert bookings_of(alpha) == count


def test_a_key_reused_with_another_body_is_refused(alpha, api):
    client = api(alpha.customer_user)
    create(client, alpha, key="order-1")
    count = bookings_of(alpha)

    other = create(client, alpha, key="order-1", starts_at="2030-01-07T14:00:00+02:00")

    assert error_of(other) == (422, "idempotency_key_reused")
    assert bookings_of(alpha) == count


def test_a_refused_request_is_not_remembered_so_its_key_can_be_retried(alpha, api):
    client = api(alpha.customer_user)
    taken = create(
        client, alpha, key="k", starts_at="2030-01-07T10:00:00+02:00", resource=alpha.staff_time.pk
    )
    assert taken.status_code == 409
    assert not IdempotencyRecord.objects.filter(key="k").exists()

    # The same request again, once the slot is free, books.
    with scopes_disabled():
        alpha.booking.status = BookingStatus.CANCELLED
        alpha.booking.save(update_fields=["status"])
        alpha.booking.occupancy.delete()
    retried = create(
        client, alpha, key="k", starts_at="2030-01-07T10:00:00+02:00", resource=alpha.staff_time.pk
    )

    assert retried.status_code == 201


def test_keys_belong_to_one_user(alpha, api):
    create(api(alpha.customer_user), alpha, key="shared")

    someone_else = create(
        api(alpha.owner), alpha, key="shared", starts_at="2030-01-07T14:00:00+02:00"
    )

    assert someone_else.status_code == 201


@pytest.mark.parametrize("key", ["x" * 256, "naïve"])
def test_a_malformed_key_is_refused(alpha, api, key):
    response = create(api(alpha.customer_user), alpha, key=key)
    assert error_of(response) == (400, "validation_error")


# --- The customer's bookings ------------------------------------------------------------------


def test_my_bookings_span_organizations_newest_first(alpha, bravo, api):
    client = api(alpha.customer_user)
    at_bravo = create(client, bravo, starts_at="2030-01-09T12:00:00+02:00").json()["code"]

    listed = client.get("/api/v1/me/bookings/").json()

    codes = [b["code"] for b in listed["results"]]
    assert codes[0] == at_bravo
    assert set(codes) == {at_bravo, alpha.booking.code, alpha.other_booking.code}
    assert [b["starts_at"] for b in listed["results"]] == sorted(
        (b["starts_at"] for b in listed["results"]), reverse=True
    )
    assert bravo.booking.code not in str(listed)


def test_a_guest_profile_with_my_email_is_booked_on_but_its_history_stays_hidden(alpha, api):
    # given a guest who booked at Alpha by email, and then someone signs up with that email
    guest = CustomerFactory(organization=alpha.organization, email="guest@example.com")
    with scopes_disabled():
        guests_booking = alpha.book(
            customer=guest, starts_at=alpha.booking.starts_at + timedelta(hours=3)
        )
    signup = api().post(
        "/api/v1/auth/signup/",
        {"email": "guest@example.com", "password": "a long passphrase 42", "full_name": "G"},
    )
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {signup.json()['token']}")

    made = create(client, alpha, starts_at="2030-01-08T12:00:00+02:00").json()

    with scopes_disabled():
        assert Booking.objects.get(code=made["code"]).customer == guest
        guest.refresh_from_db()
    assert guest.user is None
    codes = [b["code"] for b in client.get("/api/v1/me/bookings/").json()["results"]]
    assert codes == [made["code"]]
    assert client.get(f"/api/v1/me/bookings/{guests_booking.code}/").status_code == 404


def test_cancel_records_the_reason_and_frees_the_slot(alpha, api):
    client = api(alpha.customer_user)

    response = client.post(
        f"/api/v1/me/bookings/{alpha.booking.code}/cancel/", {"version": 1, "reason": "Ill"}
    )

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["cancellation_reason"] == "Ill"
    assert (
        create(
            client, alpha, starts_at="2030-01-07T10:00:00+02:00", resource=alpha.staff_time.pk
        ).status_code
        == 201
    )


def test_cancel_after_the_cutoff_is_refused_with_a_clear_message(alpha, api):
    alpha.organization.cancellation_cutoff = timedelta(days=60)
    alpha.organization.save(update_fields=["cancellation_cutoff"])

    response = api(alpha.customer_user).post(
        f"/api/v1/me/bookings/{alpha.booking.code}/cancel/", {"version": 1}
    )

    assert error_of(response) == (409, "cancellation_too_late")
    assert "before they start" in response.json()["error"]["message"]


def test_a_change_based_on_an_old_version_answers_409_stale_version(alpha, api):
    with scopes_disabled():
        booking_confirm(actor=alpha.owner, booking=alpha.booking, expected_version=1)

    response = api(alpha.customer_user).post(
        f"/api/v1/me/bookings/{alpha.booking.code}/cancel/", {"version": 1}
    )

    assert error_of(response) == (409, "stale_version")


def test_reschedule_moves_the_booking_and_bumps_its_version(alpha, api):
    response = api(alpha.customer_user).post(
        f"/api/v1/me/bookings/{alpha.booking.code}/reschedule/",
        {"version": 1, "starts_at": "2030-01-08T15:00:00+02:00"},
    )

    assert response.status_code == 200, response.content
    assert response.json()["starts_at"] == "2030-01-08T15:00:00+02:00"
    assert response.json()["version"] == 2


def test_a_completed_rental_can_be_reviewed_once(alpha, api):
    client = api(alpha.customer_user)
    code = create(
        client,
        alpha,
        service=alpha.rental.pk,
        car=alpha.car.pk,
        starts_at="2030-01-08T09:00:00+02:00",
        ends_at="2030-01-09T09:00:00+02:00",
    ).json()["code"]
    review = f"/api/v1/me/bookings/{code}/review/"
    assert error_of(client.post(review, {"rating": 5})) == (409, "review_not_allowed")
    with scopes_disabled():
        booking = Booking.objects.get(code=code)
        for move in (booking_confirm, booking_start, booking_complete):
            booking = move(actor=alpha.owner, booking=booking, expected_version=booking.version)

    first = client.post(review, {"rating": 5, "comment": "Clean car"})
    again = client.post(review, {"rating": 4})

    assert first.status_code == 201
    assert first.json() == {"rating": 5, "comment": "Clean car", "status": "pending"}
    assert error_of(again) == (409, "review_not_allowed")
    assert error_of(client.post(review, {"rating": 6})) == (400, "validation_error")


def test_a_key_past_its_lifetime_is_a_new_request_and_gets_purged(alpha, api):
    client = api(alpha.customer_user)
    assert create(client, alpha, key="old").status_code == 201

    with time_machine.travel(NOW + IDEMPOTENCY_KEY_LIFETIME + timedelta(minutes=1), tick=False):
        again = create(client, alpha, key="old")
        # Not replayed: run again, it finds its own slot taken by the first booking.
        assert error_of(again) == (409, "slot_taken")

        assert idempotency_records_purge() == 1
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.parametrize("starts_at", ["9999-12-31T23:30:00+00:00", "0001-01-01T00:00:00+00:00"])
def test_instants_at_the_ends_of_the_calendar_are_refused_not_overflowed(alpha, api, starts_at):
    response = create(api(alpha.customer_user), alpha, starts_at=starts_at)

    assert error_of(response) == (400, "validation_error")
    assert "starts_at" in response.json()["error"]["details"]

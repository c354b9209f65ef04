"""Concurrent HTTP clients against a live server, each request on its own PostgreSQL connection.

The engine's race test (tests/bookings/test_double_booking.py) repeated through the API, and
concurrent retries of one Idempotency-Key.
"""

import json
import threading
import urllib.error
import urllib.request

import pytest
from django_scopes import scopes_disabled
from knox.models import AuthToken

from bookings.models import Booking
from config.api.models import IdempotencyRecord
from tests.factories import UserFactory
from tests.scenarios import SLOT, ApiTenant

CONTENDERS = 12


@pytest.fixture
def live_alpha(transactional_db, live_server) -> ApiTenant:
    return ApiTenant("Alpha")


def post_together(url: str, requests: list[tuple[str, dict, dict]]) -> list[tuple[int, dict]]:
    """POST every (token, body, headers) at the same instant; (status, body) of each answer."""
    barrier = threading.Barrier(len(requests))
    answers: list[tuple[int, dict]] = []

    def client(token: str, body: dict, headers: dict) -> None:
        request = urllib.request.Request(
            url,
            data=json.dumps(body).encode(),
            method="POST",
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                **headers,
            },
        )
        barrier.wait()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                answers.append((response.status, json.loads(response.read())))
        except urllib.error.HTTPError as error:
            answers.append((error.code, json.loads(error.read())))

    threads = [threading.Thread(target=client, args=args) for args in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def booking_body(t: ApiTenant) -> dict:
    return {
        "service": t.service.pk,
        "location": t.location.pk,
        "resource": t.staff_time.pk,
        "starts_at": SLOT,
    }


def test_racing_clients_get_one_201_and_409_slot_taken_for_the_rest(live_alpha, live_server):
    # given a dozen customers, each with their own token, after the same slot
    tokens = [AuthToken.objects.create(user=UserFactory())[1] for _ in range(CONTENDERS)]
    url = f"{live_server.url}/api/v1/organizations/alpha/bookings/"

    answers = post_together(url, [(token, booking_body(live_alpha), {}) for token in tokens])

    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] + [409] * (CONTENDERS - 1)
    assert {body["error"]["code"] for status, body in answers if status == 409} == {"slot_taken"}
    with scopes_disabled():
        assert Booking.objects.filter(resource=live_alpha.staff_time).count() == 2  # + fixture's


def test_concurrent_retries_of_one_key_book_once_and_answer_alike(live_alpha, live_server):
    # given one app retrying the same request with the same key, many times at once
    _, token = AuthToken.objects.create(user=live_alpha.customer_user)
    url = f"{live_server.url}/api/v1/organizations/alpha/bookings/"
    retry = (token, booking_body(live_alpha), {"Idempotency-Key": "retry-1"})

    answers = post_together(url, [retry] * CONTENDERS)

    assert {status for status, _ in answers} == {201}
    assert len({body["code"] for _, body in answers}) == 1
    with scopes_disabled():
        assert Booking.objects.filter(code=answers[0][1]["code"]).count() == 1
        assert Booking.objects.filter(resource=live_alpha.staff_time).count() == 2
    assert IdempotencyRecord.objects.filter(key="retry-1").count() == 1

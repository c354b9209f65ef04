"""The catalogue's kept answers (bookings.api.answers): an anonymous read is answered whole from
the cache, in one SQL statement, and never with something the views would no longer say."""

from datetime import datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from bookings.metrics import ANSWER_CACHE
from tests.scenarios import ApiTenant


def availability(tenant: ApiTenant, **params) -> str:
    query = {"location": tenant.location.pk, "date_from": "2030-01-07", "date_to": "2030-01-13"}
    query |= params
    slug = tenant.organization.slug
    return f"/api/v1/organizations/{slug}/services/{tenant.service.pk}/availability/?" + "&".join(
        f"{name}={value}" for name, value in query.items()
    )


def served_from_cache(client, path: str, **headers):
    """The answer, and whether it was a kept one (no query beyond the generations')."""
    hits = ANSWER_CACHE.labels("hit")._value.get()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, **headers)
    kept = ANSWER_CACHE.labels("hit")._value.get() == hits + 1
    assert not kept or len(captured.captured_queries) == 1
    return response, kept


def starts(response) -> list[str]:
    return [slot["starts_at"] for slot in response.json()["slots"]]


@pytest.mark.parametrize("which", ["organization", "services", "locations", "availability"])
def test_a_kept_answer_is_the_views_answer_byte_for_byte(alpha, api, which):
    path = {
        "organization": "/api/v1/organizations/alpha/",
        "services": "/api/v1/organizations/alpha/services/",
        "locations": "/api/v1/organizations/alpha/locations/",
        "availability": availability(alpha),
    }[which]
    computed, kept_before = served_from_cache(api(), path)
    again, kept = served_from_cache(api(), path)
    signed_in = api(alpha.customer_user).get(path)

    assert (kept_before, kept) == (False, True)
    assert again.status_code == computed.status_code == 200
    assert again.content == computed.content == signed_in.content
    # CSP, ETag, Vary, content type... all but the request's own id
    assert again["X-Request-ID"] != computed["X-Request-ID"]
    assert {**again.headers, "X-Request-ID": ""} == {**computed.headers, "X-Request-ID": ""}


def test_a_booking_is_seen_by_the_next_read(alpha, api, django_capture_on_commit_callbacks):
    client = api()
    client.get(availability(alpha))
    before, kept = served_from_cache(client, availability(alpha))
    assert kept and "2030-01-07T12:00:00+02:00" in starts(before)

    with django_capture_on_commit_callbacks(execute=True):
        booked = api(alpha.customer_user).post(
            "/api/v1/organizations/alpha/bookings/",
            {
                "service": alpha.service.pk,
                "location": alpha.location.pk,
                "starts_at": "2030-01-07T12:00:00+02:00",
            },
        )
    assert booked.status_code == 201

    after, kept = served_from_cache(client, availability(alpha))
    assert not kept  # the day's generation moved: a new key
    after_slots = {slot["starts_at"]: slot["resource_ids"] for slot in after.json()["slots"]}
    before_slots = {slot["starts_at"]: slot["resource_ids"] for slot in before.json()["slots"]}
    assert after_slots != before_slots
    assert served_from_cache(client, availability(alpha))[1]  # kept again, at the new key


def test_a_price_change_is_seen_by_the_next_read(alpha, api):
    client = api()
    client.get("/api/v1/organizations/alpha/services/")
    with scopes_disabled():
        alpha.service.price = alpha.service.price + 7
        alpha.service.save()

    after, kept = served_from_cache(client, "/api/v1/organizations/alpha/services/")

    assert not kept
    prices = {service["id"]: service["price"] for service in after.json()["results"]}
    assert prices[alpha.service.pk] == str(alpha.service.price)


def test_a_kept_answer_ends_when_its_first_slots_notice_begins(alpha, api):
    """Free slots also depend on the clock: the first leaves as its minimum notice begins."""
    path = availability(alpha, date_from="2029-12-07", date_to="2029-12-13")
    client = api()
    first = datetime.fromisoformat(starts(client.get(path))[0])
    notice = timedelta(minutes=alpha.service.minimum_notice_minutes)

    with time_machine.travel(first - notice - timedelta(seconds=1), tick=False):
        still, kept = served_from_cache(client, path)
        assert kept and datetime.fromisoformat(starts(still)[0]) == first
    with time_machine.travel(first - notice + timedelta(seconds=1), tick=False):
        later, kept = served_from_cache(client, path)
        assert not kept
        assert datetime.fromisoformat(starts(later)[0]) > first


def test_an_answer_reaching_past_the_advance_limit_is_never_kept(alpha, api):
    """Beyond the limit, slots join as time goes on: no instant says until when it holds."""
    with scopes_disabled():
        alpha.service.maximum_advance_days = 33
        alpha.service.save()
    client = api()
    client.get(availability(alpha))
    assert not served_from_cache(client, availability(alpha))[1]


def test_another_organizations_url_never_gets_a_kept_answer(alpha, bravo, api):
    client = api()
    client.get(availability(alpha))
    assert served_from_cache(client, availability(alpha))[1]

    # alpha's service under bravo's slug: bravo's own views answer, as for any visitor
    crossing = availability(alpha).replace("/alpha/", f"/{bravo.organization.slug}/")
    assert client.get(crossing).status_code == 404
    assert client.get(crossing).status_code == 404


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_AUTHORIZATION": "Bearer nonsense"},
        {"HTTP_COOKIE": "sessionid=whatever"},
        {"HTTP_ACCEPT": "text/html"},
    ],
)
def test_only_anonymous_json_reads_get_kept_answers(alpha, api, headers):
    client = api()
    client.get(availability(alpha))
    response, kept = served_from_cache(client, availability(alpha), **headers)
    assert not kept
    assert response.status_code in (200, 401, 406)


def test_a_kept_answer_still_gets_its_304(alpha, api):
    client = api()
    etag = client.get(availability(alpha))["ETag"]
    unchanged, kept = served_from_cache(client, availability(alpha), HTTP_IF_NONE_MATCH=etag)
    assert kept and unchanged.status_code == 304 and unchanged.content == b""


@pytest.mark.parametrize(
    "query",
    ["location=abc&date_from=2030-01-07&date_to=2030-01-13", "date_from=x&date_to=y&location=1"],
)
def test_queries_that_do_not_parse_are_the_views_to_refuse(alpha, api, query):
    path = f"/api/v1/organizations/alpha/services/{alpha.service.pk}/availability/?{query}"
    assert api().get(path).status_code == 400
    assert api().get(path).status_code == 400

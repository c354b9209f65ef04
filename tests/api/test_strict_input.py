"""Input is read as the schema says, never coerced: ids are whole numbers, pages are bounded."""

import pytest
from django_scopes import scopes_disabled

from tests.api.test_bookings import bookings_of, create, error_of
from tests.scenarios import SLOT, ApiTenant


@pytest.mark.parametrize(
    "service",
    [lambda pk: pk + 0.5, str, lambda pk: f" {pk} ", lambda pk: True, lambda pk: 2**63],
)
def test_an_id_in_a_body_that_is_not_a_whole_number_is_a_400(alpha: ApiTenant, api, service):
    before = bookings_of(alpha)
    response = create(api(alpha.customer_user), alpha, service=service(alpha.service.pk))
    assert error_of(response) == (400, "validation_error")
    assert "service" in response.json()["error"]["details"]
    assert bookings_of(alpha) == before


@pytest.mark.parametrize("location", ["1.5", " 1 ", "01", "1.0", "", "9" * 30])
def test_an_id_in_a_query_is_plain_digits(alpha: ApiTenant, api, location):
    base = f"/api/v1/organizations/{alpha.organization.slug}"
    service = f"{base}/services/{alpha.service.pk}/availability/"
    query = f"date_from=2030-01-07&date_to=2030-01-07&location={location}"
    assert error_of(api().get(f"{service}?{query}")) == (400, "validation_error")
    assert error_of(api().get(f"{base}/cars/?location={location}"))[0] == 400


def test_a_whole_number_id_in_a_query_is_read(alpha: ApiTenant, api):
    base = f"/api/v1/organizations/{alpha.organization.slug}"
    response = api().get(f"{base}/cars/?location={alpha.location.pk}")
    assert response.status_code == 200 and response.json()["count"] == 1


@pytest.mark.parametrize("page_size", ["0", "101", "abc", "1.5", " 5"])
def test_page_size_outside_1_to_100_is_a_400_not_the_default(alpha: ApiTenant, api, page_size):
    url = f"/api/v1/organizations/{alpha.organization.slug}/services/?page_size={page_size}"
    assert error_of(api().get(url)) == (400, "validation_error")


def test_an_empty_idempotency_key_is_a_400(alpha: ApiTenant, api):
    url = f"/api/v1/organizations/{alpha.organization.slug}/bookings/"
    body = {"service": alpha.service.pk, "location": alpha.location.pk, "starts_at": SLOT}
    response = api(alpha.customer_user).post(url, body, HTTP_IDEMPOTENCY_KEY="")
    assert error_of(response) == (400, "validation_error")


def test_nul_in_a_body_string_is_a_400_parse_error_and_deep_nesting_too(alpha: ApiTenant, api):
    assert error_of(create(api(alpha.customer_user), alpha, notes="a\x00b")) == (400, "parse_error")
    url = f"/api/v1/organizations/{alpha.organization.slug}/bookings/"
    client = api(alpha.customer_user)
    deep = client.generic("POST", url, "[" * 5000 + "]" * 5000, "application/json")
    assert error_of(deep) == (400, "parse_error")


@pytest.mark.parametrize("version", [1.0, "1", True, " 1", 1.5])
def test_a_version_that_is_not_a_json_integer_is_a_400_and_cancels_nothing(
    alpha: ApiTenant, api, version
):
    url = f"/api/v1/me/bookings/{alpha.booking.code}/cancel/"
    response = api(alpha.customer_user).post(url, {"version": version}, format="json")
    assert error_of(response) == (400, "validation_error")
    assert "version" in response.json()["error"]["details"]
    with scopes_disabled():
        alpha.booking.refresh_from_db()
    assert alpha.booking.status != "cancelled"


def test_a_version_that_is_a_json_integer_is_read(alpha: ApiTenant, api):
    url = f"/api/v1/me/bookings/{alpha.booking.code}/cancel/"
    response = api(alpha.customer_user).post(url, {"version": 1}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"


@pytest.mark.parametrize("days", ["1.0", " 1", "01", "true"])
def test_an_integer_in_a_query_is_plain_digits(alpha: ApiTenant, api, days):
    url = f"/api/v1/organizations/{alpha.organization.slug}/staff/schedule/"
    query = f"date=2030-01-07&location={alpha.location.pk}&days={days}"
    assert error_of(api(alpha.owner).get(f"{url}?{query}")) == (400, "validation_error")


@pytest.mark.parametrize("notes", [0, 1.5, True, ["a"], {"a": 1}])
def test_text_that_is_not_a_json_string_is_a_400_and_books_nothing(alpha: ApiTenant, api, notes):
    before = bookings_of(alpha)
    response = create(api(alpha.customer_user), alpha, notes=notes)
    assert error_of(response) == (400, "validation_error")
    assert "notes" in response.json()["error"]["details"]
    assert bookings_of(alpha) == before


def test_a_field_the_request_does_not_have_is_a_400_naming_it(alpha: ApiTenant, api):
    before = bookings_of(alpha)
    response = create(api(alpha.customer_user), alpha, note="a misspelt notes")
    assert error_of(response) == (400, "validation_error")
    assert response.json()["error"]["details"] == {"note": ["Not a field of this request."]}
    assert bookings_of(alpha) == before


@pytest.mark.parametrize("starts_at", ["1999-12-31T23:00:00+00:00", "2100-01-01T00:00:00+00:00"])
def test_an_instant_outside_the_platform_years_is_a_400(alpha: ApiTenant, api, starts_at):
    response = create(api(alpha.customer_user), alpha, starts_at=starts_at)
    assert error_of(response) == (400, "validation_error")
    assert response.json()["error"]["details"]["starts_at"] == [
        "Must be between 2000-01-01 and 2099-12-31."
    ]


def test_the_years_are_read_as_written_not_in_utc(alpha: ApiTenant, api):
    """2000-01-01 00:30 in Helsinki is still 1999 in UTC, and still the platform's first day."""
    url = f"/api/v1/organizations/{alpha.organization.slug}/cars/"
    query = "free_from=2000-01-01T00:30:00%2B02:00&free_to=2000-01-02T00:30:00%2B02:00"
    assert api().get(f"{url}?{query}").status_code == 200


def test_the_schema_states_the_years_text_rule_and_closed_bodies(api):
    schema = api().get("/api/v1/schema/?format=json").json()
    components = schema["components"]["schemas"]
    booking = components["BookingCreateRequest"]
    assert booking["additionalProperties"] is False
    assert booking["properties"]["starts_at"]["pattern"].startswith("^20")
    assert booking["properties"]["notes"]["pattern"] == r"^[^\u0000\uD800-\uDFFF]*$"
    for name, component in components.items():
        if name.endswith("Request"):
            assert component["additionalProperties"] is False, name


@pytest.mark.parametrize("seats", ["1.5", " 4", "four"])
def test_a_whole_number_filter_is_plain_digits(alpha: ApiTenant, api, seats):
    url = f"/api/v1/organizations/{alpha.organization.slug}/cars/?seats_min={seats}"
    assert error_of(api().get(url)) == (400, "validation_error")

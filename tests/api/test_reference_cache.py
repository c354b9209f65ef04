"""The catalogue and availability read the organization's reference data from the process
(bookings.reference_cache), keyed by the generation PostgreSQL bumps in the changing
transaction: a change is in the very next answer, whichever table it touched, and another
organization's rows are never reached through it."""

from datetime import time
from decimal import Decimal

import pytest
from django_scopes import scopes_disabled

from bookings.models import OpeningHours, ServiceVehiclePrice
from tests.scenarios import MONDAY, ApiTenant

API = "/api/v1/organizations/alpha"


def week_url(t: ApiTenant, **extra: object) -> str:
    query = "&".join(f"{name}={value}" for name, value in extra.items())
    return (
        f"{API}/services/{t.service.pk}/availability/?location={t.location.pk}"
        f"&date_from={MONDAY}&date_to={MONDAY}" + (f"&{query}" if query else "")
    )


def starts(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [slot["starts_at"] for slot in response.json()["slots"]]


def service_of(response, service_id: int) -> dict:
    assert response.status_code == 200, response.content
    return next(row for row in response.json()["results"] if row["id"] == service_id)


def test_a_new_duration_is_in_the_next_availability_answer(alpha, api):
    client = api()
    before = starts(client.get(week_url(alpha)))
    assert starts(client.get(week_url(alpha))) == before  # now from the caches

    with scopes_disabled():
        alpha.service.duration_minutes = 4 * 60
        alpha.service.save(update_fields=["duration_minutes"])

    after = starts(client.get(week_url(alpha)))
    assert after != before
    assert len(after) < len(before)


def test_new_opening_hours_are_in_the_next_availability_answer(alpha, api):
    client = api()
    assert starts(client.get(week_url(alpha)))

    with scopes_disabled():
        OpeningHours.objects.filter(location=alpha.location).update(
            opens_at=time(13), closes_at=time(14)
        )

    after = starts(client.get(week_url(alpha)))
    assert after and all("T13:" in start for start in after)


def test_a_resource_taken_off_the_service_is_gone_from_the_next_answer(alpha, api):
    client = api()
    assert starts(client.get(week_url(alpha)))

    with scopes_disabled():  # staff's change, made as set-up
        alpha.service.resources.remove(alpha.staff_time)  # the only one at the main location

    assert starts(client.get(week_url(alpha))) == []


def test_a_new_price_and_currency_are_in_the_next_service_list(alpha, api):
    client = api()
    assert service_of(client.get(f"{API}/services/"), alpha.service.pk)["vehicle_prices"] == []

    with scopes_disabled():
        ServiceVehiclePrice.objects.create(
            organization=alpha.organization,
            service=alpha.service,
            vehicle_type="suv",
            price=Decimal("12.50"),
        )
        alpha.organization.currency = "SEK"
        alpha.organization.save(update_fields=["currency"])

    row = service_of(client.get(f"{API}/services/"), alpha.service.pk)
    assert row["vehicle_prices"] == [{"vehicle_type": "suv", "price": "12.50"}]
    assert row["currency"] == "SEK"


def test_a_renamed_location_is_in_the_next_location_list(alpha, api):
    client = api()
    assert client.get(f"{API}/locations/").status_code == 200

    with scopes_disabled():
        alpha.location.name = "Renamed"
        alpha.location.save(update_fields=["name"])

    names = [row["name"] for row in client.get(f"{API}/locations/").json()["results"]]
    assert "Renamed" in names


@pytest.mark.parametrize("field", ["location", "resource"])
def test_another_organizations_row_is_not_found_in_the_reference_data(alpha, bravo, api, field):
    client = api()
    assert starts(client.get(week_url(alpha)))  # alpha's reference data kept in the process
    other = {"location": bravo.location.pk, "resource": bravo.staff_time.pk}[field]
    url = week_url(alpha, resource=other) if field == "resource" else week_url(alpha)
    url = (
        url.replace(f"location={alpha.location.pk}", f"location={other}")
        if field == "location"
        else url
    )

    refused = client.get(url)

    assert refused.status_code == 400
    assert refused.json()["error"]["details"][field] == [
        f'Invalid pk "{other}" - object does not exist.'
    ]

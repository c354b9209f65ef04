"""The pages that list things read a fixed number of queries, however many things they list."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import CarFactory, ServiceFactory
from tests.pages.test_rental_pages import PERIOD
from tests.scenarios import MONDAY


def _queries(client, url, query=None) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, query or {}).status_code == 200
    return len(captured)


def _grow(shop) -> None:
    for n in range(4):
        car = CarFactory(resource__location=shop.location, make="Saab", model=f"9-{n}")
        shop.rental.resources.add(car.resource)
        ServiceFactory(organization=shop.organization, name=f"Extra {n}", resources=[shop.bay])


def test_the_landing_page(shop, client):
    before = _queries(client, shop.url("home"))
    _grow(shop)
    assert _queries(client, shop.url("home")) == before


def test_the_car_search(shop, client):
    query = {"location": shop.location.pk, **PERIOD}
    before = _queries(client, shop.url("car-search"), query)
    _grow(shop)
    assert _queries(client, shop.url("car-search"), query) == before


def test_a_day_of_free_times_from_the_cache(shop, client):
    """The day page a customer picks a time on: the organization, the service with its vehicle
    prices and resources, the location, the people to choose from and the generations; the
    bookable resources come from the process's reference data, the slots from the cache."""
    url = shop.url("service-day", shop.wash.pk, shop.location.slug, MONDAY)
    client.get(url)  # warm
    assert _queries(client, url) == DAY_PAGE_QUERIES


DAY_PAGE_QUERIES = 7

"""The hot read paths send a pinned number of SQL queries (docs/performance.md): a new query on
one of them is a cost every visitor pays, so it must be a decision, not an accident.

Booking creation is pinned in test_query_counts.py, conditional availability in
test_catalogue.py."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.scenarios import ApiTenant


def queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize(
    ("path", "pinned"),
    [
        # the organization (the tenant middleware) is the answer
        ("/api/v1/organizations/alpha/", 1),
        # organization, the reference generation; the body written once per generation
        ("/api/v1/organizations/alpha/services/", 2),
        ("/api/v1/organizations/alpha/locations/", 2),
        # organization, the generations (reference and days); service, location and resources
        # from the process's reference data of that generation, the days from the cache
        ("AVAILABILITY", 2),
    ],
)
def test_catalogue_and_cached_availability_reads(alpha: ApiTenant, api, path, pinned):
    if path == "AVAILABILITY":
        path = (
            f"/api/v1/organizations/alpha/services/{alpha.service.pk}/availability/"
            f"?location={alpha.location.pk}&date_from=2030-01-07&date_to=2030-01-13"
        )
    client = api()
    client.get(path)  # the cache warmed, as a visitor after the first finds it
    assert queries(client, path) == pinned

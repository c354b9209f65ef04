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


AVAILABILITY = "AVAILABILITY"
READS = ["/api/v1/organizations/alpha/", "/api/v1/organizations/alpha/services/",
         "/api/v1/organizations/alpha/locations/", AVAILABILITY]  # fmt: skip


def url(alpha: ApiTenant, path: str) -> str:
    if path != AVAILABILITY:
        return path
    return (
        f"/api/v1/organizations/alpha/services/{alpha.service.pk}/availability/"
        f"?location={alpha.location.pk}&date_from=2030-01-07&date_to=2030-01-13"
    )


@pytest.mark.parametrize("path", READS)
def test_an_anonymous_read_of_a_kept_answer_is_one_query(alpha: ApiTenant, api, path):
    """The organization by slug with its generations (bookings.api.answers): nothing else."""
    path = url(alpha, path)
    client = api()
    client.get(path)  # the answer kept, as a visitor after the first finds it
    assert queries(client, path) == 1


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
        (AVAILABILITY, 2),
    ],
)
def test_a_signed_in_read_goes_through_the_views(alpha: ApiTenant, api, path, pinned):
    """No kept answers for a signed-in client: the views' own counts (a token check on top)."""
    path = url(alpha, path)
    client = api(alpha.customer_user)
    client.get(path)  # the days and the reference data cached
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    statements = [query["sql"] for query in captured.captured_queries]
    assert len([sql for sql in statements if "knox_authtoken" not in sql]) == pinned, statements

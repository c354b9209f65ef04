"""Property-based run of the whole API against its own OpenAPI schema (Schemathesis).

For every operation of /api/v1/schema/, generated requests (valid and invalid) go through the
real WSGI application, and every answer must be a documented status, with a documented content
type and a body that matches the schema; no input may cause a 5xx.
"""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from knox.models import AuthToken
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig

from tests.api.conftest import ApiTenant

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

# Explicit examples, then boundary values of every parameter, then random fuzzing; the stateful
# phase (chains of calls) is the CLI's and does not run under pytest.
CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {"mode": "all"},
        "phases": {"examples": {"enabled": True}, "coverage": {"enabled": True}},
    }
)


@pytest.fixture
def application() -> Iterator[WSGIHandler]:
    """Django's own WSGI handler, minus the per-request connection recycling a real server
    does: closing the connection would end the test's transaction (Django's test client
    disconnects the same receiver)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _mostly(real: st.SearchStrategy, generated: Any) -> st.SearchStrategy:
    """Real values three times in four, so requests reach rows; the generated value otherwise."""
    return st.integers(0, 3).flatmap(lambda n: real if n else st.just(generated))


def _realistic_path_parameters(alpha: ApiTenant, bravo: ApiTenant) -> Callable:
    slugs = ["alpha", "alpha", "alpha", "bravo"]
    codes = [alpha.booking.code, alpha.other_booking.code, bravo.booking.code]
    ids = {
        "cars": [alpha.car.pk, bravo.car.pk],
        "services": [alpha.service.pk, alpha.rental.pk, bravo.service.pk],
    }

    def flatmap_path_parameters(context: Any, path_parameters: dict) -> st.SearchStrategy:
        real: dict[str, st.SearchStrategy] = {}
        if "organization_slug" in path_parameters:
            real["organization_slug"] = st.sampled_from(slugs)
        if "code" in path_parameters:
            real["code"] = st.sampled_from(codes)
        if "id" in path_parameters:
            collection = "cars" if "/cars/" in context.operation.path else "services"
            real["id"] = st.sampled_from(ids[collection])
        if not real:
            return st.just(path_parameters)
        merged = st.fixed_dictionaries(real).map(lambda values: {**path_parameters, **values})
        return _mostly(merged, path_parameters)

    return flatmap_path_parameters


@pytest.fixture
def api_schema(application: WSGIHandler, alpha: ApiTenant, bravo: ApiTenant):
    """The schema as the app serves it, with hooks that steer path parameters to real rows."""
    loaded = schemathesis.openapi.from_wsgi(
        "/api/v1/schema/?format=json", application, config=CONFIG
    )
    loaded.hook(_realistic_path_parameters(alpha, bravo))
    return loaded


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(params=["owner", "customer"])
def bearer(request: pytest.FixtureRequest, alpha: ApiTenant) -> dict[str, str]:
    """Owner: every staff endpoint answers with data. Customer: /me/bookings/ has bookings."""
    _, token = AuthToken.objects.create(user=alpha.user(request.param))
    return {"Authorization": f"Bearer {token}"}


@schema.parametrize()
@pytest.mark.usefixtures("bearer")  # parametrized: known at collection, unlike the case's fixtures
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case: schemathesis.Case, bearer: dict[str, str]) -> None:
    """Each example runs in a savepoint rolled back afterwards: logout and token revocation
    would otherwise delete the run's token mid-run, and a booking made or cancelled by one
    example would change what the next sees (Hypothesis needs each example repeatable)."""
    cache.clear()
    with transaction.atomic():
        case.call_and_validate(headers=bearer, checks=CHECKS)
        transaction.set_rollback(True)

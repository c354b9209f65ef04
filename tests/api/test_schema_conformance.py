"""The whole API against its own OpenAPI schema, property-based (Schemathesis).

Every operation of /api/v1/schema/ gets generated requests, valid and invalid, through the real
WSGI handler and database; every answer must have a documented status code, a documented content
type and a body that matches the schema, and no input may cause a 5xx.
"""

from collections.abc import Iterator
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
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import TestPhase

from tests.scenarios import ApiTenant

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

# Valid and invalid input: first the boundary cases of every parameter and body field (the
# coverage phase, worked out from the schema), then random ones (fuzzing). The stateful phase
# (chains of calls) is the CLI's; it does not run under pytest.
CONFIG = SchemathesisConfig.from_dict(
    {"generation": {"mode": "all"}, "phases": {"coverage": {"enabled": True}}}
)

# Read at collection as a client reads it: the document the views describe, served by the same
# handler the requests go through. (schemathesis.pytest.from_fixture would read it inside the
# test instead, but its lazy runner needs `Node._nodeid`, which pytest 9 no longer has.)
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", WSGIHandler(), config=CONFIG)

# Real values for the parameters and body fields of that name: ids of the rows the `alpha` and
# `bravo` fixtures made, and times that fit the frozen clock. Random ids and slugs would meet
# almost nothing but 404 and 400. The first value of each list is the one the coverage phase
# uses; the rest, and the generated value, are fuzzing's to pick from. Filled per test by the
# `known` fixture: the hooks below read it while Hypothesis generates, inside the test.
KNOWN: dict[str, list] = {}

# The extremes `format: date` allows; random dates almost never reach them.
EDGE_DATES = ["0001-01-01", "9999-12-31"]
EDGE_TIMES = ["0001-01-01T00:00:00+00:00", "9999-12-31T23:00:00+00:00"]


def _known_key(name: str, path: str) -> str:
    """`id` is a car's or a service's, by the collection it follows in the path."""
    if name == "id":
        return path.split("/{id}")[0].rsplit("/", 1)[1] + "/id"
    return name


def _steered(values: Any, path: str) -> st.SearchStrategy:
    """Each value KNOWN has real ones for becomes one of them, three times in four."""
    if not isinstance(values, dict):
        return st.just(values)
    choices = {
        name: st.integers(0, 3).flatmap(
            lambda n, value=value, key=key: st.sampled_from(KNOWN[key]) if n < 3 else st.just(value)
        )
        for name, value in values.items()
        if (key := _known_key(name, path)) in KNOWN
    }
    return st.fixed_dictionaries(choices).map(lambda steered: {**values, **steered})


@schema.hook
def flatmap_path_parameters(context: schemathesis.HookContext, values: Any) -> st.SearchStrategy:
    return _steered(values, context.operation.path)


@schema.hook
def flatmap_query(context: schemathesis.HookContext, values: Any) -> st.SearchStrategy:
    return _steered(values, context.operation.path)


@schema.hook
def flatmap_body(context: schemathesis.HookContext, values: Any) -> st.SearchStrategy:
    return _steered(values, context.operation.path)


def _fill_known(case: schemathesis.Case) -> None:
    """Coverage cases are built at collection, before any row exists, and no hook reaches them
    later: every value KNOWN has is set here, except the one the case is about."""
    phase = case.meta.phase.data
    if phase.parameter_location is ParameterLocation.BODY:
        under_test = (phase.location or "").removeprefix("/properties/").split("/")[0]
    else:
        under_test = phase.parameter
    for values in (case.path_parameters, case.query, case.body):
        if isinstance(values, dict):
            for name in values:
                key = _known_key(name, case.operation.path)
                if key in KNOWN and name != under_test:
                    values[name] = KNOWN[key][0]


@pytest.fixture(autouse=True)
def keep_test_connection() -> Iterator[None]:
    """A server closes the database connection around each request; here that would end the
    test's transaction, so that receiver is off (as it is in Django's test client)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def token(role: str, alpha: ApiTenant) -> tuple[AuthToken, str]:
    """The run's token, made once: each example's rollback (see `_call`) undoes its revocation."""
    return AuthToken.objects.create(user=alpha.user(role))


@pytest.fixture
def known(
    alpha: ApiTenant, bravo: ApiTenant, token: tuple[AuthToken, str]
) -> Iterator[dict[str, list]]:
    """Fills KNOWN for one test, and empties it after."""
    slot = ["2030-01-07T11:00:00+02:00", "2030-01-07T10:00:00+02:00", "2030-01-09T10:00:00+02:00"]
    someone_elses, _ = AuthToken.objects.create(user=alpha.staff)
    KNOWN.update(
        {
            "organization_slug": ["alpha", "alpha", "alpha", "bravo"],
            "code": [alpha.booking.code, alpha.other_booking.code, bravo.booking.code],
            # alpha's rows only: under the slug "bravo" they must be as unknown as random ids.
            "cars/id": [alpha.car.pk],
            "services/id": [alpha.service.pk, alpha.rental.pk],
            "token_key": [token[0].token_key, someone_elses.token_key],
            "service": [alpha.service.pk, alpha.rental.pk],
            "car": [alpha.car.pk],
            "location": [alpha.location.pk, alpha.other_location.pk, bravo.location.pk],
            "resource": [alpha.staff_time.pk, alpha.bay.pk, alpha.car.resource.pk],
            "date": ["2030-01-07", "2029-12-07", *EDGE_DATES],
            "date_from": ["2030-01-07", "2029-12-07", *EDGE_DATES],
            "date_to": ["2030-01-09", "2030-01-07", *EDGE_DATES],
            "starts_at": [*slot, *EDGE_TIMES],
            "ends_at": [*slot, *EDGE_TIMES],
            "free_from": [*slot, *EDGE_TIMES],
            "free_to": [*slot, *EDGE_TIMES],
            "version": [1, 2],
            "email": [alpha.owner.email, alpha.customer_user.email],
            "password": ["password"],  # every factory user's (tests/factories.py)
        }
    )
    yield KNOWN
    KNOWN.clear()


def _call(case: schemathesis.Case, bearer: str) -> None:
    """Each example runs in a savepoint that is rolled back: logout and token revocation would
    otherwise delete the run's token mid-run (every later request a 401), and a booking made
    or cancelled by one example would change what the next one sees, so a failure could not
    be replayed and shrunk. The cache (availability, throttles) starts afresh with it.
    """
    if case.meta is not None and case.meta.phase.name is TestPhase.COVERAGE:
        _fill_known(case)
    cache.clear()
    with transaction.atomic():
        case.call_and_validate(headers={"Authorization": f"Bearer {bearer}"}, checks=CHECKS)
        transaction.set_rollback(True)


# Bounded, so the file runs in about a minute. Hypothesis' health checks about function-scoped
# fixtures do not apply: each example rolls back its own changes.
BOUNDED = settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("role", ["owner"])
@schema.parametrize()
@BOUNDED
def test_owner(case: schemathesis.Case, token: tuple[AuthToken, str], known: dict) -> None:
    """Every operation, as alpha's owner: each staff endpoint answers with data. Schemathesis
    leaves the token out of some cases on its own, so anonymous calls are covered too."""
    _call(case, token[1])


@pytest.mark.parametrize("role", ["customer"])
@schema.parametrize()
@BOUNDED
def test_customer(case: schemathesis.Case, token: tuple[AuthToken, str], known: dict) -> None:
    """Every operation, as alpha's customer: their bookings are under /me/, every staff
    endpoint must refuse them in the documented way, and the public ones answer a customer's
    token as the schema says (a token may change what they do: the booking's customer)."""
    _call(case, token[1])

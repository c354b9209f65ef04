"""The whole API against its own OpenAPI schema, property-based (Schemathesis).

Every operation of /api/v1/schema/ gets generated requests, valid and invalid, through the real
WSGI handler and database; every answer must have a documented status code, a documented content
type and a body that matches the schema, and no input may cause a 5xx.
"""

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, assume, settings
from hypothesis import strategies as st
from knox.models import AuthToken
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    positive_data_acceptance,
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

# The first and last days the schema allows; random dates almost never reach them.
EDGE_DATES = ["2000-01-01", "2099-12-31"]
EDGE_TIMES = ["2000-01-01T00:00:00+00:00", "2099-12-31T23:00:00+00:00"]


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


def _call(case: schemathesis.Case, bearer: str, checks: list = CHECKS) -> None:
    """Each example runs in a savepoint that is rolled back: logout and token revocation would
    otherwise delete the run's token mid-run (every later request a 401), and a booking made
    or cancelled by one example would change what the next one sees, so a failure could not
    be replayed and shrunk. The cache (availability, throttles) starts afresh with it.
    """
    if case.meta is not None and case.meta.phase.name is TestPhase.COVERAGE:
        _fill_known(case)
    assume(not _steering_undid_a_mutation(case))
    headers = {} if _token_left_out(case) else {"Authorization": f"Bearer {bearer}"}
    cache.clear()
    with transaction.atomic():
        case.call_and_validate(headers=headers, checks=checks)
        transaction.set_rollback(True)


def _mutations(case: schemathesis.Case) -> tuple:
    """How a negative case broke the schema, if it is one."""
    return getattr(case.meta.phase.data, "mutations", ()) if case.meta is not None else ()


def _steering_undid_a_mutation(case: schemathesis.Case) -> bool:
    """A real value (see `_steered`) put over the very value a negative case broke: the case
    would claim to be invalid while sending valid input, so it is thrown away."""
    containers = {
        ParameterLocation.BODY: case.body,
        ParameterLocation.QUERY: case.query,
        ParameterLocation.PATH: case.path_parameters,
    }
    for mutation in _mutations(case):
        values = containers.get(mutation.parameter_location)
        if not isinstance(values, dict):
            continue
        pointer = mutation.schema_pointer.removeprefix("/properties/").split("/")[0]
        for name in {mutation.parameter, *mutation.path[:1], pointer} & values.keys():
            key = _known_key(str(name), case.operation.path)
            if key in KNOWN and values[name] in KNOWN[key]:
                return True
    return False


def _token_left_out(case: schemathesis.Case) -> bool:
    """The negative case is about a missing Authorization header: send none."""
    return any(
        mutation.parameter_location is ParameterLocation.HEADER
        and "required" in mutation.keywords
        and "Authorization" in str(mutation.original_value)
        for mutation in _mutations(case)
    )


# Bounded, so the file runs in about a minute. Hypothesis' health checks about function-scoped
# fixtures do not apply: each example rolls back its own changes. Derandomized, so a run answers
# as the last one did: a merge is judged on its own change, not on a new draw (a random run found
# a NUL in a review's comment taken as schema-valid once, the generator's slip, not the
# server's). SCHEMA_FUZZ_EXPLORE=1 draws new examples, to look for more.
BOUNDED = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=os.environ.get("SCHEMA_FUZZ_EXPLORE") != "1",
)


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


# The schema as a contract on input, both ways: what it calls invalid is refused (4xx) and what
# it calls valid is accepted, or refused only with a status the operation documents for valid
# input it still cannot take (a wrong password, a taken slot, a date range backwards).
REFUSALS_OF_VALID_INPUT = {
    # A password or a link that is well formed but wrong.
    "auth_token_create": [400],
    "auth_password_reset_confirm_create": [400],
    "auth_verify_email_create": [400],
    "me_password_create": [400],
    "me_destroy": [400],
    # An address already signed up; a phone that is text but no number.
    "auth_signup_create": [400],
    "me_partial_update": [400],
    # Rules across fields or against the calendar and the data: see each operation's 400/422.
    "organizations_services_availability_retrieve": [400],
    "organizations_cars_availability_retrieve": [400],
    "organizations_cars_list": [400],
    "organizations_bookings_create": [400, 422],
    "me_bookings_cancel_create": [422],
    "me_bookings_reschedule_create": [400, 422],
    "me_bookings_review_create": [422],
}
STRICT = SchemathesisConfig.from_dict(
    {
        "generation": {"mode": "all"},
        "phases": {"coverage": {"enabled": True}},
        "operations": [
            {
                "include-operation-id": operation_id,
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "429"]
                        + [str(status) for status in statuses]
                    }
                },
            }
            for operation_id, statuses in REFUSALS_OF_VALID_INPUT.items()
        ],
    }
)
customer_operations = schemathesis.openapi.from_wsgi(
    "/api/v1/schema/?format=json", WSGIHandler(), config=STRICT
).exclude(path_regex="/(staff|analytics)/")
for hook in (flatmap_path_parameters, flatmap_query, flatmap_body):
    customer_operations.hook(hook)


@pytest.mark.parametrize("role", ["customer"])
@customer_operations.parametrize()
@BOUNDED
def test_customer_input_is_read_as_the_schema_says(
    case: schemathesis.Case, token: tuple[AuthToken, str], known: dict
) -> None:
    """Every public and customer operation: no "accepted invalid", no "rejected valid"."""
    _call(case, token[1], [*CHECKS, negative_data_rejection, positive_data_acceptance])

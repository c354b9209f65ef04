import pytest
import time_machine
from django.core.cache import cache
from django.test import Client
from rest_framework.throttling import SimpleRateThrottle

from bookings import reference_cache
from bookings.api import answers
from tests.factories import UserFactory
from tests.scenarios import NOW, Tenant


@pytest.fixture
def tenant_a(db) -> Tenant:
    return Tenant("Alpha")


@pytest.fixture
def tenant_b(db) -> Tenant:
    return Tenant("Bravo")


@pytest.fixture
def platform_admin(db):
    return UserFactory(is_superuser=True)


@pytest.fixture
def client_for():
    """A test client signed in as the given user (None: anonymous)."""

    def make(user) -> Client:
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    return make


@pytest.fixture
def fixed_now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def empty_cache():
    """Availability, kept answers and throttles live in the cache, reference data and kept
    answers in the process too; each test starts and ends without them."""
    cache.clear()
    reference_cache.forget_all()
    answers.forget_all()
    yield
    cache.clear()
    reference_cache.forget_all()
    answers.forget_all()


@pytest.fixture(autouse=True)
def no_answers_kept_in_the_process():
    """Each test starts with no kept answer in the process (bookings.api.answers): their keys
    name generations, which start again from 1 in each test's rolled-back database."""
    answers.forget_all()


@pytest.fixture
def rates(monkeypatch):
    """Sets throttle rates for one test (DRF reads them once, into the throttle class)."""

    def set_rates(**scopes: str) -> None:
        monkeypatch.setattr(
            SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, **scopes}
        )

    return set_rates

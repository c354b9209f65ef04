import pytest
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.scenarios import ApiTenant


@pytest.fixture(autouse=True)
def api_clock(fixed_now, empty_cache):
    """Every API test runs at NOW with empty caches (availability and throttles)."""


@pytest.fixture
def alpha(db) -> ApiTenant:
    return ApiTenant("Alpha")


@pytest.fixture
def bravo(db) -> ApiTenant:
    return ApiTenant("Bravo")


def bearer_client(user=None) -> APIClient:
    """A client that signs its requests with a real token of `user` (None: anonymous)."""
    client = APIClient()
    if user is not None:
        _, token = AuthToken.objects.create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def api():
    return bearer_client

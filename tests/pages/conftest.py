import pytest

from tests.scenarios import Shop


@pytest.fixture(autouse=True)
def pages_clock(fixed_now, empty_cache):
    """Every page test runs at NOW with an empty availability cache."""


@pytest.fixture
def shop(db) -> Shop:
    return Shop()


@pytest.fixture
def other_shop(db) -> Shop:
    return Shop("other")

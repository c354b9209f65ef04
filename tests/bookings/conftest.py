import pytest

from tests.scenarios import CarWash


@pytest.fixture(autouse=True)
def engine_clock(fixed_now, empty_cache):
    """Every engine test runs at NOW (tests/scenarios.py) with an empty cache."""


@pytest.fixture
def wash(db) -> CarWash:
    return CarWash()

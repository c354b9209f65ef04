from collections.abc import Callable

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from tests.servers import private_redis  # noqa: F401 - a fixture for these tests

Samples = dict[tuple[str, frozenset], float]


def parse_metrics(text: str) -> Samples:
    """Every sample of a /metrics page, keyed by (sample name, its labels)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture
def scrape() -> Callable[[], Samples]:
    """Read /metrics as the monitoring system does (from loopback, allowed outside production)."""

    def read() -> Samples:
        response = Client().get("/metrics")
        assert response.status_code == 200, response.content
        return parse_metrics(response.content.decode())

    return read


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)

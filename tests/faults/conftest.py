"""A booking site of its own for each fault test: a private PostgreSQL cluster, migrated and
seeded by the project's own commands, served by gunicorn (config/gunicorn.conf.py), and a
client that records what a user would see (status, Retry-After, body, time to answer).
"""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests import servers
from tests.servers import (
    REPOSITORY,
    Gunicorn,
    PrivateCluster,
    running,
)

# The fixture, offered to the tests of this folder.
private_cluster = servers.private_cluster

DATABASE = "app"
# The request budget the fault tests run with (the settings' defaults).
STATEMENT_TIMEOUT = 10.0
LOCK_TIMEOUT = 3.0


@dataclass
class Answer:
    status: int  # 0: no HTTP answer at all (connection refused or reset)
    body: dict | str
    retry_after: str | None
    seconds: float
    started: float = 0.0

    @property
    def code(self) -> str | None:
        return self.body.get("error", {}).get("code") if isinstance(self.body, dict) else None


@dataclass
class Site:
    cluster: PrivateCluster
    gunicorn: Gunicorn
    world: dict
    answers: list[Answer] = field(default_factory=list)

    def call(self, method: str, path: str, *, token: str | None = None, body: dict | None = None,
             headers: dict | None = None, timeout: float = 30.0) -> Answer:  # fmt: skip
        request = urllib.request.Request(
            self.gunicorn.url + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={
                "Accept": "application/json",
                **({"Content-Type": "application/json"} if body is not None else {}),
                **({"Authorization": f"Bearer {token}"} if token else {}),
                **(headers or {}),
            },
        )
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, raw, retry_after = (
                    response.status, response.read(), response.headers.get("Retry-After")
                )  # fmt: skip
        except urllib.error.HTTPError as error:
            status, raw, retry_after = error.code, error.read(), error.headers.get("Retry-After")
        except OSError:
            status, raw, retry_after = 0, b"", None
        seconds = time.monotonic() - started
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = raw.decode(errors="replace")
        return Answer(status, parsed, retry_after, seconds, started)

    # --- the world's paths ---------------------------------------------------------------------
    def api(self, rest: str) -> str:
        return f"/api/v1/organizations/{self.world['slug']}/{rest}"

    def slot(self, day: int, hour_index: int) -> str:
        """A slot's start as a client writes it: `day` days after the first bookable day."""
        local = datetime.combine(
            date.fromisoformat(self.world["first_day"]) + timedelta(days=day),
            clock(self.world["hours"][hour_index]),
            tzinfo=ZoneInfo(self.world["time_zone"]),
        )
        return local.isoformat()

    def booking(self, day: int, hour_index: int) -> dict:
        return {
            "service": self.world["service"],
            "location": self.world["location"],
            "starts_at": self.slot(day, hour_index),
        }

    def availability_path(self, days: int = 1) -> str:
        first = date.fromisoformat(self.world["first_day"])
        return self.api(
            f"services/{self.world['service']}/availability/?location={self.world['location']}"
            f"&date_from={first}&date_to={first + timedelta(days=days - 1)}"
        )

    def sql(self, query: str) -> str:
        return self.cluster.psql(query, database=DATABASE)


def manage(cluster: PrivateCluster, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args],
        cwd=REPOSITORY,
        env=os.environ
        | {"DATABASE_URL": cluster.url(DATABASE), "DJANGO_SETTINGS_MODULE": "config.settings.test"},
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.stdout


def start_site(cluster: PrivateCluster, directory: Path, *, customers: int, bays: int,
               workers: int, threads: int) -> Iterator[Site]:  # fmt: skip
    cluster.psql(f"CREATE DATABASE {DATABASE}")
    manage(cluster, "manage.py", "migrate", "--noinput")
    world = json.loads(manage(cluster, "-m", "tests.faults.world", str(customers), str(bays)))
    gunicorn = Gunicorn(
        directory,
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": cluster.url(DATABASE),
            "DATABASE_STATEMENT_TIMEOUT": str(STATEMENT_TIMEOUT),
            "DATABASE_LOCK_TIMEOUT": str(LOCK_TIMEOUT),
            "GUNICORN_THREADS": str(threads),
            "REDIS_URL": "",  # the cache of each gunicorn process: cached reads need no server
            "CELERY_BROKER_URL": "",
            "LOG_LEVEL": "WARNING",
        },
        workers=workers,
    )
    with running(gunicorn):
        yield Site(cluster, gunicorn, world)


@pytest.fixture
def site_for(request: pytest.FixtureRequest, tmp_path: Path):
    """site_for(customers=, bays=, workers=, threads=): the started site, stopped after the
    test."""
    started: list[Iterator[Site]] = []

    def make(*, customers: int, bays: int, workers: int = 2, threads: int = 4) -> Site:
        cluster = request.getfixturevalue("private_cluster")
        site = start_site(
            cluster, tmp_path, customers=customers, bays=bays, workers=workers, threads=threads
        )
        started.append(site)
        return next(site)

    yield make
    for site in started:
        site.close()


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.95) - 1)] if ordered else 0.0


def report(name: str, figures: dict) -> None:
    """The figures a fault test measured: printed (pytest -s) and, with FAULTS_REPORT=<dir>,
    written to <dir>/<name>.json for the operations notes."""
    print(f"\n{name}: {json.dumps(figures, sort_keys=True)}")
    if folder := os.environ.get("FAULTS_REPORT"):
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / f"{name}.json").write_text(json.dumps(figures, indent=2, sort_keys=True))

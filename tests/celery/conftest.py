"""Fixtures for tests against a real broker and real `celery worker` processes.

`broker_queues` makes this process publish to the broker (the suite is otherwise eager) on
queues of the test's own (a CELERY_QUEUE_PREFIX), `start_worker` starts workers consuming them
(all, or those named), `start_beat` a beat, against the test database, and kills them all when
the test ends, and `mail` shows what they sent.
"""

import contextlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection
from kombu.exceptions import OperationalError

from config.celery import app as celery_app
from config.settings.base import celery_queues
from tests.celery.recording_email_backend import MailRecording
from tests.celery.worker import CeleryBeat, CeleryWorker, database_url
from tests.scenarios import CarWash
from tests.servers import PrivateRedis, TcpProxy, running

DEFAULT_PORTS = {"amqp": 5672, "pyamqp": 5672, "redis": 6379}


@pytest.fixture
def broker_queues() -> Iterator[dict[str, str]]:
    """This test's queues ({"emails": name, "housekeeping": name, "default": name}), published
    to by this process, deleted afterwards."""
    queues = celery_queues(f"test-worker-{uuid.uuid4().hex[:12]}-")
    keys = ("task_always_eager", *queues["settings"])
    saved = {key: celery_app.conf[key] for key in keys}
    celery_app.conf.update(task_always_eager=False, **queues["settings"])
    celery_app.__dict__.pop("amqp", None)  # its routes and queues are read once, from the conf
    try:
        yield {kind: queues[kind] for kind in ("emails", "housekeeping", "default")}
    finally:
        broker_url = celery_app.conf.broker_url
        celery_app.conf.update(saved)
        celery_app.__dict__.pop("amqp", None)
        # The queues and the direct exchanges of their names. Declared here first: Redis's
        # emulation only deletes the bindings its own channel knows of.
        with (
            contextlib.suppress(OSError, OperationalError),
            celery_app.connection_for_write(broker_url, connect_timeout=5) as broker,
        ):
            for declared in queues["settings"]["task_queues"]:
                declared = declared(broker)
                declared.declare()
                declared.delete()
                declared.exchange.delete()


@pytest.fixture
def mail(tmp_path: Path) -> MailRecording:
    directory = tmp_path / "mail"
    directory.mkdir()
    return MailRecording(directory)


@pytest.fixture
def celery_env(
    broker_queues: dict[str, str], mail: MailRecording
) -> Callable[[float], dict[str, str]]:
    """The environment of this test's Celery processes, given the send time of an email."""

    def env(send_seconds: float = 0.0) -> dict[str, str]:
        return {
            "DJANGO_SETTINGS_MODULE": "tests.celery.worker_settings",
            "DATABASE_URL": database_url(connection.settings_dict),
            "CELERY_BROKER_URL": celery_app.conf.broker_url,
            "CELERY_QUEUE_PREFIX": broker_queues["emails"].removesuffix("emails"),
            "EMAIL_RECORDING_DIR": str(mail.directory),
            "EMAIL_RECORDING_SEND_SECONDS": str(send_seconds),
        }

    return env


@pytest.fixture
def start_worker(
    transactional_db, broker_queues: dict[str, str], celery_env, tmp_path: Path
) -> Iterator[Callable[..., CeleryWorker]]:
    """Start a worker and wait until it consumes: `start_worker(send_seconds=30)`.

    `queues`: the kinds it consumes ("emails", "housekeeping", "default"; all by default).
    `send_seconds`: how long each email takes to send. `env`: more environment variables.
    Workers see committed rows only, hence `transactional_db`; they are killed before its
    teardown empties the tables.
    """
    workers: list[CeleryWorker] = []

    def start(
        *,
        queues: tuple[str, ...] = ("emails", "housekeeping", "default"),
        send_seconds: float = 0.0,
        env: dict[str, str] | None = None,
    ) -> CeleryWorker:
        worker = CeleryWorker(
            queues=[broker_queues[kind] for kind in queues],
            env=celery_env(send_seconds) | (env or {}),
            log_path=tmp_path / f"worker-{len(workers) + 1}.log",
        )
        workers.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in workers:
        worker.kill()


@pytest.fixture
def start_beat(transactional_db, celery_env, tmp_path: Path) -> Iterator[Callable[..., CeleryBeat]]:
    """Start `celery beat` (CELERY_BEAT_SCHEDULE, on this test's queues): `start_beat(env=...)`."""
    beats: list[CeleryBeat] = []

    def start(*, env: dict[str, str] | None = None) -> CeleryBeat:
        beat = CeleryBeat(
            env=celery_env() | (env or {}), directory=tmp_path / f"beat-{len(beats) + 1}"
        )
        beats.append(beat)
        beat.wait_ready()
        return beat

    yield start
    for beat in beats:
        beat.kill()


@pytest.fixture
def wash(transactional_db) -> CarWash:
    """The car wash of the engine tests (tests/scenarios.py), committed."""
    return CarWash()


def use_broker(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Point this process (and the workers it starts) at `url` for the rest of the test.

    Celery reads CELERY_BROKER_URL from the environment before its own setting, so both change.
    """
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    monkeypatch.setitem(celery_app.conf, "broker_url", url)


@pytest.fixture
def proxied_broker(monkeypatch: pytest.MonkeyPatch) -> Iterator[TcpProxy]:
    """The broker behind a TcpProxy of the test's own, which this process and the workers it
    starts go through: `stop()` it to take the broker away from them, `start()` to give it
    back. The machine's broker itself is never touched."""
    url = urlsplit(celery_app.conf.broker_url)
    proxy = TcpProxy(url.port or DEFAULT_PORTS.get(url.scheme, 5672), target_host=url.hostname)
    with running(proxy):
        credentials = url.netloc.rpartition("@")[0]
        netloc = (
            f"{credentials}@127.0.0.1:{proxy.port}" if credentials else f"127.0.0.1:{proxy.port}"
        )
        use_broker(monkeypatch, urlunsplit(url._replace(netloc=netloc)))
        yield proxy


@pytest.fixture(params=["rabbitmq", "redis"])
def any_broker(request, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """Each test twice: on the suite's broker (RabbitMQ in CI), and on a private Redis (with
    persistence), whose transport redelivers a dead worker's task only after the visibility
    timeout (an hour): there the outbox's own claims and sweep are all that rescue an email."""
    if request.param == "rabbitmq":
        yield celery_app.conf.broker_url
        return
    with running(PrivateRedis(tmp_path / "redis-broker")) as redis:
        use_broker(monkeypatch, redis.url)
        yield redis.url

"""Fixtures for tests against a real broker and real `celery worker` processes.

`broker_queue` makes this process's `.delay()` publish to the broker (the suite is otherwise
eager) on a queue of the test's own, `start_worker` starts workers consuming it, against the test
database, and kills them all when the test ends, and `mail` shows what they sent.
"""

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connection
from kombu import Exchange, Queue

from config.celery import app as celery_app
from tests.celery.recording_email_backend import MailRecording
from tests.celery.worker import CeleryWorker, database_url
from tests.scenarios import CarWash


@pytest.fixture
def broker_queue() -> Iterator[str]:
    """A fresh queue that this process publishes every task to, deleted afterwards."""
    queue = f"test-worker-{uuid.uuid4().hex[:12]}"
    saved = {key: celery_app.conf[key] for key in ("task_always_eager", "task_default_queue")}
    celery_app.conf.update(task_always_eager=False, task_default_queue=queue)
    try:
        yield queue
    finally:
        celery_app.conf.update(saved)
        # The queue and the direct exchange of its name that Celery made for it. Declared here
        # first: Redis's emulation only deletes the bindings its own channel knows of.
        with celery_app.connection_for_write() as broker:
            declared = Queue(queue, Exchange(queue, "direct"), queue, channel=broker)
            declared.declare()
            declared.delete()
            declared.exchange.delete()


@pytest.fixture
def mail(tmp_path: Path) -> MailRecording:
    directory = tmp_path / "mail"
    directory.mkdir()
    return MailRecording(directory)


@pytest.fixture
def start_worker(
    transactional_db, broker_queue: str, mail: MailRecording, tmp_path: Path
) -> Iterator[Callable[..., CeleryWorker]]:
    """Start a worker and wait until it consumes: `start_worker(send_seconds=30)`.

    `send_seconds`: how long each email takes to send. `env`: more environment variables.
    Workers see committed rows only, hence `transactional_db`; they are killed before its
    teardown empties the tables.
    """
    workers: list[CeleryWorker] = []

    def start(*, send_seconds: float = 0.0, env: dict[str, str] | None = None) -> CeleryWorker:
        worker = CeleryWorker(
            queue=broker_queue,
            env={
                "DJANGO_SETTINGS_MODULE": "tests.celery.worker_settings",
                "DATABASE_URL": database_url(connection.settings_dict),
                "CELERY_BROKER_URL": celery_app.conf.broker_url,
                "EMAIL_RECORDING_DIR": str(mail.directory),
                "EMAIL_RECORDING_SEND_SECONDS": str(send_seconds),
            }
            | (env or {}),
            log_path=tmp_path / f"worker-{len(workers) + 1}.log",
        )
        workers.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in workers:
        worker.kill()


@pytest.fixture
def wash(transactional_db) -> CarWash:
    """The car wash of the engine tests (tests/scenarios.py), committed."""
    return CarWash()

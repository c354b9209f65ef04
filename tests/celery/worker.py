"""Real `celery worker` and `celery beat` processes of this project, for tests that need them
(not eager mode)."""

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, urlencode

from tests.servers import REPOSITORY

POLL_SECONDS = 0.05


class CeleryWorker:
    """`celery -A config worker` (prefork, one child, as deployed) consuming the given queues.

    The worker gets a session, hence a process group, of its own, so `kill()` takes the main
    process (which holds the broker connection) and its pool child (which runs the task and
    holds the database transaction) at once, as a crashed or OOM-killed container would.
    """

    def __init__(self, *, queues: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self.process = _start_celery(
            [
                "worker",
                "--pool=prefork",
                "--concurrency=1",
                f"--queues={','.join(queues)}",
                f"--hostname={queues[0]}-{log_path.stem}@%h",
                "--loglevel=INFO",
                # Nothing to synchronise with other workers; saves seconds at start-up.
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            env=env,
            log_path=log_path,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self) -> None:
        wait_for(lambda: " ready." in self.log(), "the worker to be ready", workers=[self])

    def task_results(self, task_name: str) -> dict[str, str]:
        """Task id -> the repr of its result, for each run of that task that succeeded."""
        succeeded = re.compile(
            rf"Task {re.escape(task_name)}\[(?P<id>[^\]]+)\] succeeded in \S+: (?P<result>.*)$",
            re.MULTILINE,
        )
        return {match["id"]: match["result"] for match in succeeded.finditer(self.log())}

    def kill(self) -> None:
        """SIGKILL the whole process group: no warm shutdown, no acknowledgement."""
        _kill_group(self.process)


class CeleryBeat:
    """`celery -A config beat` with its schedule file in `directory`, queueing
    CELERY_BEAT_SCHEDULE on the queues its environment names."""

    def __init__(self, *, env: dict[str, str], directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.log_path = directory / "beat.log"
        self.process = _start_celery(
            ["beat", f"--schedule={directory / 'schedule'}", "--loglevel=INFO"],
            env=env,
            log_path=self.log_path,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self) -> None:
        wait_for(lambda: "Sending due task" in self.log(), "beat to queue a task", workers=[self])

    def kill(self) -> None:
        _kill_group(self.process)


def _start_celery(arguments: list[str], *, env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """`celery -A config <arguments>` in a session of its own (so a kill takes its children),
    logging to `log_path`."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", *arguments],
            cwd=REPOSITORY,
            env=os.environ | {"PYTHONPATH": str(REPOSITORY)} | env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone, children included
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def wait_for(
    condition: Callable[[], object],
    what: str,
    *,
    workers: list["CeleryWorker | CeleryBeat"] = (),
    timeout: float = 60,
):
    """Poll until `condition()` is truthy and return it; fail with the workers' logs otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        if result := condition():
            return result
        dead = [worker for worker in workers if worker.process.poll() is not None]
        if dead or time.monotonic() > deadline:
            problem = "a worker exited" if dead else f"timed out after {timeout:.0f} s"
            logs = "\n".join(f"--- {worker.log_path}\n{worker.log()[-5000:]}" for worker in workers)
            raise AssertionError(f"Waiting for {what}: {problem}.\n{logs}")
        time.sleep(POLL_SECONDS)


def database_url(settings_dict: dict) -> str:
    """A DATABASE_URL for the database Django is connected to (the test database, in a test).

    A Unix-socket directory goes in the `host` query parameter, which django-environ passes on
    to libpq; in the authority part it would not survive the round trip.
    """
    host = settings_dict["HOST"] or ""
    options = {key: str(value) for key, value in settings_dict.get("OPTIONS", {}).items()}
    if host.startswith("/"):
        options["host"], host = host, ""
    elif ":" in host:
        host = f"[{host}]"  # an IPv6 address
    credentials = quote(settings_dict["USER"] or "", safe="")
    if settings_dict["PASSWORD"]:
        credentials += ":" + quote(settings_dict["PASSWORD"], safe="")
    port = f":{settings_dict['PORT']}" if settings_dict["PORT"] else ""
    query = f"?{urlencode(options)}" if options else ""
    return f"postgres://{credentials}@{host}{port}/{quote(settings_dict['NAME'], safe='')}{query}"

"""Probes for a load balancer or an orchestrator; neither needs a session, a tenant or a token.

`/health/live`: the process answers (no I/O at all), so a restart is only asked for when the
process itself is stuck. `/health/ready`: the dependencies this deployment is configured with
answer: PostgreSQL (and every migration of this code is applied), Redis, the Celery broker. Each
check runs in its own thread with a deadline (HEALTH_CHECK_TIMEOUT, 1 s), so the probe answers
within about that long whatever hangs. The body names the checks, their state and latency, and
never anything about tenants. A dependency left unconfigured (local-memory cache, eager tasks)
reads "not configured" and does not fail the probe.
"""

import logging
import threading
import time
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from kombu import Connection

logger = logging.getLogger(__name__)

# Set once this process has seen every migration applied: the plan of this code cannot grow
# afterwards, and reading the migration files on every probe would cost more than the query.
_migrations_applied = False


class CheckFailed(Exception):
    """A dependency answered, but not as a ready one does (its message goes in the body)."""


def check_database() -> None:
    global _migrations_applied
    connection = connections.create_connection(DEFAULT_DB_ALIAS)  # this probe's own connection
    try:
        with connection.cursor() as cursor:
            timeout_ms = int(settings.HEALTH_CHECK_TIMEOUT * 1000)
            cursor.execute("SELECT set_config('statement_timeout', %s, false)", [str(timeout_ms)])
            cursor.execute("SELECT 1")
        if not _migrations_applied:
            executor = MigrationExecutor(connection)
            if executor.migration_plan(executor.loader.graph.leaf_nodes()):
                raise CheckFailed("unapplied migrations")
            _migrations_applied = True
    finally:
        connection.close()


def check_redis() -> None:
    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=settings.HEALTH_CHECK_TIMEOUT,
        socket_timeout=settings.HEALTH_CHECK_TIMEOUT,
        retry=None,
    )
    try:
        client.ping()
    finally:
        client.close()


def check_broker() -> None:
    with Connection(
        settings.CELERY_BROKER_URL, connect_timeout=settings.HEALTH_CHECK_TIMEOUT
    ) as broker:
        # One attempt, no retry loop: a probe reports, it does not wait for a recovery.
        broker.ensure_connection(max_retries=0, timeout=settings.HEALTH_CHECK_TIMEOUT)
        broker.default_channel  # noqa: B018 - Redis transports connect only for a channel


def configured_checks() -> dict[str, Callable[[], None] | None]:
    """The checks of this deployment; None where the dependency is not configured."""
    eager = settings.CELERY_TASK_ALWAYS_EAGER and settings.CELERY_BROKER_URL == "memory://"
    return {
        "database": check_database,
        "redis": check_redis if settings.REDIS_URL else None,
        "broker": None if eager else check_broker,
    }


def run_checks(checks: dict[str, Callable[[], None] | None], timeout: float) -> dict[str, dict]:
    """Run the checks side by side; each reports ok, failing (with why) or timed out."""
    results: dict[str, dict] = {}
    threads = {}

    def run(name: str, check: Callable[[], None]) -> None:
        started = time.perf_counter()
        try:
            check()
        except Exception as error:
            # The body names the kind of failure only; addresses and messages go to the log.
            logger.warning("readiness check %s failed: %r", name, error)
            detail = str(error) if isinstance(error, CheckFailed) else type(error).__name__
            outcome = {"status": "down", "error": detail}
        else:
            outcome = {"status": "ok"}
        outcome["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
        results[name] = outcome

    for name, check in checks.items():
        if check is None:
            results[name] = {"status": "not configured"}
            continue
        # Daemon threads: a check that hangs past its deadline is abandoned, not waited for.
        threads[name] = threading.Thread(target=run, args=(name, check), daemon=True)
        threads[name].start()
    deadline = time.monotonic() + timeout
    for thread in threads.values():
        thread.join(max(0.0, deadline - time.monotonic()))
    timed_out = {"status": "down", "error": "timed out", "latency_ms": round(timeout * 1000, 1)}
    # A finished thread has written its result; a late one's result is never read.
    return {
        name: timed_out if name in threads and threads[name].is_alive() else results[name]
        for name in checks
    }


def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


def ready(request: HttpRequest) -> JsonResponse:
    checks = run_checks(configured_checks(), settings.HEALTH_CHECK_TIMEOUT)
    down = any(check["status"] == "down" for check in checks.values())
    return JsonResponse(
        {"status": "down" if down else "ok", "checks": checks},
        status=503 if down else 200,
        headers={"Cache-Control": "no-store"},
    )

"""The platform's own metrics, beside django-prometheus's request metrics (docs/operations.md).

Counted where they happen: database statements (an execute wrapper on every connection),
cache operations (`MeteredCacheMixin`, config/cache.py), Celery task outcomes
(signals). The app counters (bookings, emails, availability cache) live in their apps'
`metrics.py`; figures read from the database at scrape time (outbox backlog, connections,
queues, analytics age, backups, replica lag) are the collectors of
config/operations/exporter.py.

Under gunicorn with several workers, PROMETHEUS_MULTIPROC_DIR makes every counter here a file
that any worker's /metrics adds up (config/gunicorn.conf.py).
"""

import logging
import os
import time

from celery import signals
from django.conf import settings
from django.db.backends.signals import connection_created
from prometheus_client import Counter, Histogram

slow_statements = logging.getLogger("platform.slow_statements")

# Buckets from a cache hit (sub-millisecond) to a statement near its timeout.
FAST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

DB_QUERY_SECONDS = Histogram(
    "booking_db_query_duration_seconds",
    "Time of one SQL statement (or executemany), by database alias.",
    ["alias"],
    buckets=FAST_BUCKETS,
)
DB_ERRORS = Counter(
    "booking_db_errors_total",
    "SQL statements that raised, by database alias and exception class.",
    ["alias", "error"],
)
DB_CONNECTIONS_OPENED = Counter(
    "booking_db_connections_opened_total",
    "Database connections this process opened (persistent ones are reused: see CONN_MAX_AGE).",
    ["alias"],
)
TASKS = Counter(
    "booking_celery_tasks_total",
    "Celery task runs by task and outcome (succeeded, failed, retried, revoked, rejected).",
    ["task", "outcome"],
)
TASK_SECONDS = Histogram(
    "booking_celery_task_duration_seconds",
    "Run time of a Celery task, by task.",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300),
)


def observe_query(execute, sql, params, many, context):
    """Django execute wrapper (`connection.execute_wrappers`): time and errors per statement,
    and one warning for each statement slower than DATABASE_SLOW_STATEMENT_MS (the slow-query
    log of servers without pg_stat_statements: config/operations/insight.py)."""
    alias = context["connection"].alias
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    except Exception as error:
        DB_ERRORS.labels(alias, type(error).__name__).inc()
        raise
    finally:
        elapsed = time.perf_counter() - started
        DB_QUERY_SECONDS.labels(alias).observe(elapsed)
        threshold_ms = settings.DATABASE_SLOW_STATEMENT_MS
        if threshold_ms and elapsed * 1000 >= threshold_ms:
            slow_statements.warning(
                "Slow statement (%.0f ms): %s", elapsed * 1000, " ".join(sql.split())[:500]
            )


def _on_connection_created(sender, connection, **_kwargs) -> None:
    DB_CONNECTIONS_OPENED.labels(connection.alias).inc()
    # The wrapper list belongs to the DatabaseWrapper, which outlives reconnections.
    if observe_query not in connection.execute_wrappers:
        connection.execute_wrappers.append(observe_query)


_task_started: dict[str, float] = {}


def _task_name(sender=None, task=None, request=None, **_kwargs) -> str:
    named = task or sender
    if isinstance(named, str):
        return named
    if named is not None and getattr(named, "name", None):
        return named.name
    return getattr(request, "task", None) or getattr(request, "name", None) or "unknown"


def _on_prerun(task_id=None, task=None, **_kwargs) -> None:
    _task_started[task_id] = time.perf_counter()


def _on_postrun(task_id=None, task=None, **_kwargs) -> None:
    started = _task_started.pop(task_id, None)
    if started is not None:
        TASK_SECONDS.labels(_task_name(task=task)).observe(time.perf_counter() - started)


def _outcome(outcome: str):
    def receive(sender=None, **kwargs) -> None:
        TASKS.labels(_task_name(sender=sender, **kwargs), outcome).inc()

    return receive


_RECEIVERS = {
    signals.task_success: _outcome("succeeded"),
    signals.task_failure: _outcome("failed"),
    signals.task_retry: _outcome("retried"),
    signals.task_revoked: _outcome("revoked"),
    signals.task_rejected: _outcome("rejected"),
    signals.task_prerun: _on_prerun,
    signals.task_postrun: _on_postrun,
}


def _on_worker_process_shutdown(pid=None, **_kwargs) -> None:
    # A prefork child's live gauges die with it (counters stay summed).
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())


def _on_worker_ready(**_kwargs) -> None:
    """`celery worker` serves its own /metrics on CELERY_WORKER_METRICS_PORT when that is set."""
    port = os.environ.get("CELERY_WORKER_METRICS_PORT")
    if not port:
        return
    from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server

    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    start_http_server(int(port), addr=os.environ.get("CELERY_WORKER_METRICS_ADDR", "127.0.0.1"),
                      registry=registry)  # fmt: skip


def connect_signals() -> None:
    connection_created.connect(_on_connection_created, dispatch_uid="ops-metrics")
    for signal, receiver in _RECEIVERS.items():
        signal.connect(receiver, weak=False, dispatch_uid=f"ops-metrics-{receiver.__name__}")
    signals.worker_process_shutdown.connect(
        _on_worker_process_shutdown, weak=False, dispatch_uid="ops-metrics"
    )
    signals.worker_ready.connect(_on_worker_ready, weak=False, dispatch_uid="ops-metrics")
